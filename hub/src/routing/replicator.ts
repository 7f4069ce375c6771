import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import { nextTurn } from '../base/next-turn.js'
import type { LogEntry, TopicLog } from '../store/topic-log.js'
import type { ReplicaEntry, ReplicateRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import type { RetainedStore } from './router.js'
import type { SeenPublishes } from './seen-publishes.js'

export interface ReplicatorDeps {
  self: string
  bus: Pick<PeerBus, 'request' | 'send'>
  /** Up to `n` hubs for `key`, the owner first, then its successors on the ring. */
  replicasOf(key: string, n: number): string[]
  /** Copies of each message: the owner's and `replicationFactor − 1` successors'. */
  replicationFactor: number
  /**
   * Hubs of the ring that are not known to have left: alive, suspect or dead (this one included).
   * A QoS ≥ 1 message needs `min(replicationFactor, knownHubs())` copies on distinct live hubs
   * before it is acknowledged (see `Replication.ok`). Absent: as many as the live ring allows.
   */
  knownHubs?(): number
  /**
   * A replica refused a copy of `key` because it knows a newer epoch of it: another hub has
   * numbered the key since this one last did (this hub was paused or cut off, and declared dead
   * meanwhile). The router stops sequencing it, so that its next message takes it over again.
   */
  superseded?(key: string): void
  /**
   * A replica failed or refused these copies (called before their publishes hear of it): the
   * router keeps their keys for the retries of the forwarded ones (`RetryHolds`). Their ingress
   * hubs are told too (`copies-failed`), so that they retry at once.
   */
  copiesFailed?(entries: readonly ReplicaEntry[]): void
  topicLog: Pick<TopicLog, 'appendReplica'>
  retained: RetainedStore
  /** Forwarded publishes' ids, remembered by a replica so that it recognises their retries if it takes the key over. */
  seen: SeenPublishes
  stats: { replicated: number, replicaFailures: number }
  requestTimeoutMs: number
  /** Copies of publishes that came in here, committed here as a replica: confirm them (`ReplicaConfirmations`). */
  confirmedHere(ids: string[]): void
  clock: Clock
  log: Logger
}

/** The copies of one event-loop turn for one replica: one request, one shared outcome. */
interface CopyBatch {
  entries: ReplicaEntry[]
  /** Resolves (never rejects) once the replica has committed the batch (true) or failed it (false). */
  settled: Promise<boolean>
}

/** What one message's copies are: who gets one, and when they have all answered. */
export interface Replication {
  /**
   * Resolves (never rejects) once every replica has answered: true when each committed its copy
   * and there were enough of them, false otherwise (a replica failed or refused, or the live ring
   * is smaller than the copies wanted while hubs of it are dead: the other side of a partition
   * may be taking the key over). A QoS ≥ 1 message whose copies failed is not acknowledged.
   */
  settled: Promise<boolean>
  /** The replicas copied to (this hub excluded). */
  to: string[]
}

const NOTHING: Replication = { settled: Promise.resolve(true), to: [] }
const TOO_FEW: Replication = { settled: Promise.resolve(false), to: [] }

/**
 * Invariant 3's copies (DESIGN §2): the owner copies every numbered message to the key's
 * successors before it acknowledges it; the copies of one event-loop turn go to each replica in
 * one request, and the messages of that turn wait on that request's one promise (a promise,
 * closure and token per copy were a good part of the owner's cost per message). The replica side
 * (`store`) commits a batch of copies together.
 */
export class Replicator {
  readonly #open = new Map<string, CopyBatch>()
  /** Batches sent, not confirmed yet: token → [when sent, copies] (insertion order = age). */
  readonly #unconfirmed = new Map<number, [number, number]>()
  #inflightCopies = 0
  #nextBatch = 0

  constructor(private readonly deps: ReplicatorDeps) {}

  /**
   * Copies an entry to the key's successors; `settled` resolves once each has committed it or
   * failed. A failed copy is counted and logged (the ring is about to replace that successor, and
   * the next messages go to the new one). With `via` (and `id`), each replica also confirms its
   * copy to that ingress hub directly.
   */
  replicate(entry: LogEntry, id: string | undefined, via?: string, to: string[] | null = this.replicasFor(entry.key)): Replication {
    if (this.deps.replicationFactor < 2) return NOTHING
    if (to === null) {
      this.deps.stats.replicaFailures++
      return TOO_FEW
    }
    if (to.length === 0) return NOTHING
    // One literal per shape (no fields added later, no undefined ones, which msgpack would send as nil).
    const { key, epoch, seq, topic, payload, qos, retain, tsMs } = entry
    const copy: ReplicaEntry = id === undefined
      ? { key, epoch, seq, topic, payload, qos, retain, tsMs }
      : via === undefined ? { key, epoch, seq, topic, payload, qos, retain, tsMs, id } : { key, epoch, seq, topic, payload, qos, retain, tsMs, id, via }
    let settled: Promise<boolean> | undefined
    for (const replica of to) {
      const batch = this.#batchFor(replica)
      batch.entries.push(copy)
      settled = settled === undefined ? batch.settled : Promise.all([settled, batch.settled]).then(([a, b]) => a && b)
    }
    return { settled: settled as Promise<boolean>, to }
  }

  /**
   * The hubs that get copies of `key` (this one excluded); null when this hub sees fewer live hubs
   * than copies are wanted while some of the ring are dead (not left): it may be on the small side
   * of a partition, or alone, and must neither acknowledge what nobody else holds nor number what
   * it could not copy. The router asks once per message, before numbering it, and hands the answer
   * to `replicate`; while it is null it numbers no QoS ≥ 1 message and takes no key over
   * (docs/reliability.md, "Partitions").
   */
  replicasFor(key: string): string[] | null {
    if (this.deps.replicationFactor < 2) return []
    const to = this.deps.replicasOf(key, this.deps.replicationFactor).filter((hub) => hub !== this.deps.self)
    // The members are counted only when the replica set is short: not for every message.
    const short = to.length + 1 < this.deps.replicationFactor
    return short && to.length + 1 < Math.min(this.deps.replicationFactor, this.deps.knownHubs?.() ?? 1) ? null : to
  }

  #batchFor(replica: string): CopyBatch {
    const open = this.#open.get(replica)
    if (open) return open
    const entries: ReplicaEntry[] = []
    const settled = new Promise<boolean>((resolve) => {
      nextTurn(() => {
        this.#open.delete(replica)
        this.#send(replica, entries).then(resolve, () => resolve(false))
      })
    })
    const batch = { entries, settled }
    this.#open.set(replica, batch)
    return batch
  }

  async #send(replica: string, entries: ReplicaEntry[]): Promise<boolean> {
    const token = ++this.#nextBatch
    this.#unconfirmed.set(token, [this.deps.clock.monotonicMs(), entries.length])
    this.#inflightCopies += entries.length
    try {
      const reply = await this.deps.bus.request(replica, { t: 'replicate', entries }, this.deps.requestTimeoutMs)
      // A replica that does not name this hub the owner of every key refuses the batch (fencing).
      if (reply.t === 'not-owner') this.deps.superseded?.(reply.key)
      if (reply.t !== 'ok') throw new Error(`replica ${replica} refused the copies: ${reply.t === 'failed' ? reply.reason : reply.t}`)
      this.deps.stats.replicated += entries.length
      return true
    } catch (err) {
      this.deps.copiesFailed?.(entries)
      // (`via` is never this hub: a publish that came in here is not forwarded to itself.)
      for (const [via, ids] of idsByIngress(entries.filter((e) => e.qos > 0))) this.deps.bus.send(via, { t: 'copies-failed', ids })
      this.deps.stats.replicaFailures += entries.length
      this.deps.log.warn({ err, replica, copies: entries.length }, 'replica did not confirm its copies')
      return false
    } finally {
      this.#unconfirmed.delete(token)
      this.#inflightCopies -= entries.length
    }
  }

  /**
   * The replica side: commits a batch of copies (in numbering order, each write queued at once,
   * so they commit together), then confirms those that carry `via` to their ingress hubs
   * (unless `confirm` is false: copies kept from a refused batch).
   */
  async store(r: ReplicateRequest, confirm = true): Promise<void> {
    const copies: LogEntry[] = []
    const written: Array<Promise<unknown>> = []
    for (const e of r.entries) {
      const payload = Buffer.from(e.payload)
      copies.push({ key: e.key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload, qos: e.qos, retain: e.retain, tsMs: e.tsMs })
      if (e.retain) written.push(this.deps.retained.store({ topic: e.topic, payload, qos: e.qos }))
      if (e.id !== undefined) this.deps.seen.remember(e.id, { epoch: e.epoch, seq: e.seq, fannedOut: false })
    }
    written.push(this.deps.topicLog.appendReplica(copies))
    await Promise.all(written)
    if (!confirm) return
    for (const [via, ids] of idsByIngress(r.entries)) {
      if (via === this.deps.self) this.deps.confirmedHere(ids)
      else this.deps.bus.send(via, { t: 'replica-confirm', ids })
    }
  }

  /**
   * Replication lag: copies sent and not confirmed yet, and the age of the oldest of them (0 when
   * none), ms. An acknowledgement waits for its copies, so this is also how long the slowest
   * publish in flight has been waiting for its replicas.
   */
  lag(): { inflight: number, lagMs: number } {
    const oldest = this.#unconfirmed.values().next()
    return { inflight: this.#inflightCopies, lagMs: oldest.done === true ? 0 : this.deps.clock.monotonicMs() - oldest.value[0] }
  }
}

/** The ids of the forwarded publishes among `entries` (those carrying `via`), by ingress hub. */
function idsByIngress(entries: readonly ReplicaEntry[]): Map<string, string[]> {
  const byVia = new Map<string, string[]>()
  for (const e of entries) {
    if (e.via === undefined || e.id === undefined) continue
    const ids = byVia.get(e.via)
    if (ids) ids.push(e.id)
    else byVia.set(e.via, [e.id])
  }
  return byVia
}
