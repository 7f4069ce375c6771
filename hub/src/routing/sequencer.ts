import type { Clock } from '../base/clock.js'
import { RinghubError } from '../base/errors.js'
import type { LogEntry, NewEntry, Offset, TopicLog } from '../store/topic-log.js'

/** This hub does not sequence the key (it never owned it, or lost it): fencing, invariant 2. */
export class NotOwnerError extends RinghubError {
  constructor(readonly key: string, message = `this hub does not own key ${key}`) {
    super(message)
  }
}

/**
 * The owner could not finish the message now and keeps its place: nothing later of the key is
 * numbered before its retry (`RetryHolds`), which carries `id`. Retried as a not-owner answer is.
 */
export class RetryFirstError extends NotOwnerError {
  constructor(key: string, readonly id: string, message: string) {
    super(key, message)
  }
}

/**
 * A QoS ≥ 1 message was numbered here, but too few other hubs hold a copy of it to acknowledge
 * it (a replica failed or refused it as not coming from the owner it sees, or this hub sees too
 * few live hubs). `id` names the numbered message, so that the retry copies that one again
 * rather than numbering the message twice.
 */
export class UnreplicatedError extends RetryFirstError {
  constructor(key: string, id: string) {
    super(key, id, `too few hubs hold a copy of a message of ${key}: not acknowledged`)
  }
}

/**
 * Numbers the messages of the keys this hub owns, `(epoch, seq)` per key (DESIGN §2, invariant
 * 2), and appends them to the topic log. A key is sequenced only between `acquire` (this hub
 * became its owner) and `release` (it lost it); an append outside that is refused, so a hub that
 * lost a key can neither number nor acknowledge a message for it. Each acquisition starts a new
 * epoch above every epoch this hub knows for the key, so numbers never repeat across owners
 * once handoff (issue 4, item 6) passes the previous owner's epoch in as `knownEpoch`.
 *
 * Sequence numbers are given synchronously in call order, and the log rows are written in that
 * same order (HubDb runs each write at once inside the open batch): the order of `append` calls
 * is the key's order.
 */
export class Sequencer {
  readonly #owned = new Map<string, Offset>()

  constructor(private readonly deps: { log: TopicLog, clock: Clock }) {}

  owns(key: string): boolean { return this.#owned.has(key) }

  /** Keys currently sequenced here. */
  get ownedKeys(): IterableIterator<string> { return this.#owned.keys() }

  /** The last offset given for an owned key. */
  offsetOf(key: string): Offset | undefined {
    const o = this.#owned.get(key)
    return o && { ...o }
  }

  /**
   * Starts sequencing `key` in a new epoch: one above both what this hub's log holds for it
   * and `knownEpoch` (from the previous owner or a replica). No-op if already owned.
   */
  acquire(key: string, knownEpoch = 0): Offset {
    const held = this.#owned.get(key)
    if (held) return { ...held }
    const epoch = Math.max(this.deps.log.state(key)?.epoch ?? 0, knownEpoch) + 1
    const offset = { epoch, seq: 0 }
    this.#owned.set(key, offset)
    void this.deps.log.startEpoch(key, epoch).catch(() => { /* the next append reports a store failure */ })
    return { ...offset }
  }

  /** Stops sequencing `key` (ownership moved away). */
  release(key: string): void { this.#owned.delete(key) }

  /**
   * Numbers `entry` and appends it to the log. Returns the entry as numbered and a promise that
   * resolves once it is committed. Throws NotOwnerError for a key not owned.
   */
  append(entry: NewEntry): { entry: LogEntry, committed: Promise<void> } {
    const offset = this.#owned.get(entry.key)
    if (!offset) throw new NotOwnerError(entry.key)
    offset.seq++
    // A literal, not a spread: this runs for every message.
    const numbered: LogEntry = { key: entry.key, epoch: offset.epoch, seq: offset.seq, topic: entry.topic, payload: entry.payload, qos: entry.qos, retain: entry.retain, tsMs: this.deps.clock.now() }
    return { entry: numbered, committed: this.deps.log.append(numbered) }
  }
}
