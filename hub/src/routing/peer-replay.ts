import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { Offset, TopicLog } from '../store/topic-log.js'
import type { InterestTable } from './interest-table.js'
import type { PeerBus } from './peer-bus.js'
import type { Sequencer } from './sequencer.js'

/** Messages one returning peer is sent at most. */
export const MAX_REPLAY = 20_000
/** Entries read from the log per key and round. */
const READ = 1_000
/** How often deliveries dropped to a live peer are tried again, ms. */
export const RESEND_MS = 100

/**
 * What a hub declared dead misses, sent again when it is back (docs/routing.md, "Replay to a
 * returning hub"). While a peer counts as dead the owner sends it nothing; so when it goes with
 * interest, the owner notes the offset of every key it numbers, and when its interest is active
 * again (a refuted death, or a restart announcing its interest) it first sends the peer, from the
 * log, what it numbered since for keys it still owns and that match that interest, before
 * anything newer on the same ordered link. The peer's delivery cursors skip what it already had.
 *
 * The same for a peer that stays alive but could not take a delivery (its send queue full, its
 * connection down for a moment): the owner notes the key's offset before the dropped message,
 * sends that peer nothing more of the key live, and every `RESEND_MS` sends it what it missed from
 * the log, in order, until it has caught up; then live deliveries of the key go on.
 */
export class PeerReplay {
  /** Peers gone with interest: the offset of each key this hub numbered then. */
  readonly #missed = new Map<string, Map<string, Offset>>()
  /** Live peers that missed deliveries: per key, the offset after which they missed them. */
  readonly #behind = new Map<string, Map<string, Offset>>()
  #resendTimer: TimerHandle | undefined

  constructor(private readonly deps: {
    sequencer: Pick<Sequencer, 'ownedKeys' | 'offsetOf'>
    topicLog: Pick<TopicLog, 'since'>
    interest: Pick<InterestTable, 'isActive' | 'isDormant' | 'peersFor'>
    bus: Pick<PeerBus, 'send'>
    owns(key: string): boolean
    stats: { replayedToReturningPeers: number, deliveriesResent: number }
    clock: Clock
    log: Logger
  }) {}

  /** The peer is gone (its interest just went dormant): note where each owned key stands. */
  gone(peer: string): void {
    if (!this.deps.interest.isDormant(peer) || this.#missed.has(peer)) return
    const behind = this.#behind.get(peer)
    this.#behind.delete(peer)
    const from = new Map<string, Offset>()
    for (const key of this.deps.sequencer.ownedKeys) {
      const offset = behind?.get(key) ?? this.deps.sequencer.offsetOf(key)
      if (offset) from.set(key, offset)
    }
    this.#missed.set(peer, from)
  }

  /** The peer may be back (its interest changed or revived): send what it missed, once its interest is active. */
  back(peer: string): void {
    const missed = this.#missed.get(peer)
    if (!missed || !this.deps.interest.isActive(peer)) return
    this.#missed.delete(peer)
    let sent = 0
    for (const [key, from] of missed) {
      if (!this.deps.owns(key) || sent >= MAX_REPLAY) continue
      for (const e of this.deps.topicLog.since(key, from, READ)) {
        if (sent >= MAX_REPLAY) break
        if (!this.deps.interest.peersFor(e.topic).includes(peer)) continue
        if (this.deps.bus.send(peer, { t: 'deliver', key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload: e.payload, qos: e.qos })) sent++
      }
    }
    this.deps.stats.replayedToReturningPeers += sent
    if (sent >= MAX_REPLAY) this.deps.log.warn({ peer, sent }, 'replay to a returning hub cut at its bound; its subscribers miss the rest')
  }

  /** A delivery of `key` to the live `peer` could not be queued: it and what follows go from the log. */
  dropped(peer: string, key: string, before: Offset): void {
    let keys = this.#behind.get(peer)
    if (!keys) this.#behind.set(peer, keys = new Map())
    if (!keys.has(key)) keys.set(key, before)
    if (this.#resendTimer === undefined) {
      this.#resendTimer = this.deps.clock.setTimeout(() => this.#resend(), RESEND_MS)
      this.#resendTimer.unref()
    }
  }

  /** Whether `peer` is still owed deliveries of `key` (its new ones wait for them). */
  isBehind(peer: string, key: string): boolean { return this.#behind.get(peer)?.has(key) === true }

  stop(): void {
    this.deps.clock.clearTimeout(this.#resendTimer)
    this.#resendTimer = undefined
  }

  #resend(): void {
    this.#resendTimer = undefined
    for (const [peer, keys] of this.#behind) {
      // A dormant peer (declared dead) is `gone`'s and `back`'s.
      if (!this.deps.interest.isActive(peer)) continue
      for (const [key, from] of keys) {
        // Moved: the peer's delivery cursor reads the gap from the new owner with its first message.
        if (!this.deps.owns(key)) { keys.delete(key); continue }
        const stoppedAt = this.#sendSince(peer, key, from)
        if (stoppedAt) { keys.set(key, stoppedAt); break } // its queue is full again: next round
        keys.delete(key)
      }
      if (keys.size === 0) this.#behind.delete(peer)
    }
    if (this.#behind.size > 0) {
      this.#resendTimer = this.deps.clock.setTimeout(() => this.#resend(), RESEND_MS)
      this.#resendTimer.unref()
    }
  }

  /** Sends the peer the key's logged messages after `from` that match its interest; the offset it stopped after if one could not be queued. */
  #sendSince(peer: string, key: string, from: Offset): Offset | undefined {
    let cursor = from
    for (;;) {
      const entries = this.deps.topicLog.since(key, cursor, READ)
      for (const e of entries) {
        if (this.deps.interest.peersFor(e.topic).includes(peer)) {
          if (!this.deps.bus.send(peer, { t: 'deliver', key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload: e.payload, qos: e.qos })) return cursor
          this.deps.stats.deliveriesResent++
        }
        cursor = { epoch: e.epoch, seq: e.seq }
      }
      if (entries.length < READ) return undefined
    }
  }
}
