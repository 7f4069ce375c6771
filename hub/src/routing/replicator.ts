import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { LogEntry, TopicLog } from '../store/topic-log.js'
import type { ReplicaEntry, ReplicateRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import type { RetainedStore } from './router.js'
import type { SeenPublishes } from './seen-publishes.js'
import { TurnBatches } from './turn-batches.js'

export interface ReplicatorDeps {
  self: string
  bus: Pick<PeerBus, 'request'>
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
  clock: Clock
  log: Logger
}

/**
 * Invariant 3's copies (DESIGN §2): the owner copies every numbered message to the key's
 * successors before it acknowledges it; the copies of one event-loop turn go to each replica in
 * one request. The replica side (`store`) commits a batch of copies together.
 */
export class Replicator {
  readonly #batches: TurnBatches<ReplicaEntry, boolean>
  /** Copies sent, not confirmed yet: token → when sent (insertion order = age). */
  readonly #unconfirmed = new Map<number, number>()
  #nextCopy = 0

  constructor(private readonly deps: ReplicatorDeps) {
    this.#batches = new TurnBatches((replica, entries) => deps.bus.request(replica, { t: 'replicate', entries }, deps.requestTimeoutMs).then(
      () => entries.map(() => true),
      (err: unknown) => {
        deps.log.warn({ err, replica, copies: entries.length }, 'replica did not confirm its copies')
        return entries.map(() => false)
      },
    ))
  }

  /**
   * Copies an entry to the key's successors. Resolves once each has committed it or failed; a
   * failed copy is counted and logged (the ring is about to replace that successor, and the next
   * messages go to the new one).
   */
  async replicate(entry: LogEntry, id: string | undefined): Promise<void> {
    if (this.deps.replicationFactor < 2) return
    const replicas = this.deps.replicasOf(entry.key, this.deps.replicationFactor).filter((hub) => hub !== this.deps.self)
    if (replicas.length === 0) return
    const copy: ReplicaEntry = { ...(id === undefined ? {} : { id }), key: entry.key, epoch: entry.epoch, seq: entry.seq, topic: entry.topic, payload: entry.payload, qos: entry.qos, retain: entry.retain, tsMs: entry.tsMs }
    await Promise.all(replicas.map(async (replica) => {
      const token = ++this.#nextCopy
      this.#unconfirmed.set(token, this.deps.clock.now())
      try {
        if (await this.#batches.add(replica, copy)) this.deps.stats.replicated++
        else this.deps.stats.replicaFailures++
      } finally {
        this.#unconfirmed.delete(token)
      }
    }))
  }

  /** The replica side: commits a batch of copies (in numbering order, each write queued at once, so they commit together). */
  async store(r: ReplicateRequest): Promise<void> {
    await Promise.all(r.entries.map((e) => {
      const payload = Buffer.from(e.payload)
      const written = [this.deps.topicLog.appendReplica({ key: e.key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload, qos: e.qos, retain: e.retain, tsMs: e.tsMs })]
      if (e.retain) written.push(this.deps.retained.store({ topic: e.topic, payload, qos: e.qos }))
      if (e.id !== undefined) this.deps.seen.remember(e.id, { epoch: e.epoch, seq: e.seq, fannedOut: false })
      return Promise.all(written)
    }))
  }

  /**
   * Replication lag: copies sent and not confirmed yet, and the age of the oldest of them (0 when
   * none), ms. An acknowledgement waits for its copies, so this is also how long the slowest
   * publish in flight has been waiting for its replicas.
   */
  lag(): { inflight: number, lagMs: number } {
    const oldest = this.#unconfirmed.values().next()
    return { inflight: this.#unconfirmed.size, lagMs: oldest.done === true ? 0 : this.deps.clock.now() - oldest.value }
  }
}
