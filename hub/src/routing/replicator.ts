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
  /** Resolves (never rejects) once the replica has committed the batch or failed it. */
  settled: Promise<void>
}

/** What one message's copies are: who gets one, and when they have all answered. */
export interface Replication {
  /** Resolves (never rejects) once every replica has committed its copy or failed. */
  settled: Promise<void>
  /** The replicas copied to (this hub excluded). */
  to: string[]
}

const NOTHING: Replication = { settled: Promise.resolve(), to: [] }

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
  replicate(entry: LogEntry, id: string | undefined, via?: string): Replication {
    if (this.deps.replicationFactor < 2) return NOTHING
    const to = this.deps.replicasOf(entry.key, this.deps.replicationFactor).filter((hub) => hub !== this.deps.self)
    if (to.length === 0) return NOTHING
    const copy: ReplicaEntry = { key: entry.key, epoch: entry.epoch, seq: entry.seq, topic: entry.topic, payload: entry.payload, qos: entry.qos, retain: entry.retain, tsMs: entry.tsMs }
    if (id !== undefined) {
      copy.id = id
      if (via !== undefined) copy.via = via
    }
    let settled: Promise<void> | undefined
    for (const replica of to) {
      const batch = this.#batchFor(replica)
      batch.entries.push(copy)
      settled = settled === undefined ? batch.settled : Promise.all([settled, batch.settled]).then(() => undefined)
    }
    return { settled: settled as Promise<void>, to }
  }

  #batchFor(replica: string): CopyBatch {
    const open = this.#open.get(replica)
    if (open) return open
    const entries: ReplicaEntry[] = []
    const settled = new Promise<void>((resolve) => {
      nextTurn(() => {
        this.#open.delete(replica)
        this.#send(replica, entries).then(resolve, resolve)
      })
    })
    const batch = { entries, settled }
    this.#open.set(replica, batch)
    return batch
  }

  async #send(replica: string, entries: ReplicaEntry[]): Promise<void> {
    const token = ++this.#nextBatch
    this.#unconfirmed.set(token, [this.deps.clock.monotonicMs(), entries.length])
    this.#inflightCopies += entries.length
    try {
      await this.deps.bus.request(replica, { t: 'replicate', entries }, this.deps.requestTimeoutMs)
      this.deps.stats.replicated += entries.length
    } catch (err) {
      this.deps.stats.replicaFailures += entries.length
      this.deps.log.warn({ err, replica, copies: entries.length }, 'replica did not confirm its copies')
    } finally {
      this.#unconfirmed.delete(token)
      this.#inflightCopies -= entries.length
    }
  }

  /**
   * The replica side: commits a batch of copies (in numbering order, each write queued at once,
   * so they commit together), then confirms those that carry `via` to their ingress hubs.
   */
  async store(r: ReplicateRequest): Promise<void> {
    await Promise.all(r.entries.map((e) => {
      const payload = Buffer.from(e.payload)
      const written = [this.deps.topicLog.appendReplica({ key: e.key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload, qos: e.qos, retain: e.retain, tsMs: e.tsMs })]
      if (e.retain) written.push(this.deps.retained.store({ topic: e.topic, payload, qos: e.qos }))
      if (e.id !== undefined) this.deps.seen.remember(e.id, { epoch: e.epoch, seq: e.seq, fannedOut: false })
      return Promise.all(written)
    }))
    const confirm = new Map<string, string[]>()
    for (const e of r.entries) {
      if (e.via === undefined || e.id === undefined) continue
      const ids = confirm.get(e.via)
      if (ids) ids.push(e.id)
      else confirm.set(e.via, [e.id])
    }
    for (const [via, ids] of confirm) {
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
