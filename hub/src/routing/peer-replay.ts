import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { Offset, TopicLog } from '../store/topic-log.js'
import type { InterestTable } from './interest-table.js'
import type { DeliverMessage } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import type { Sequencer } from './sequencer.js'
import { NO_CLAIM, type SentOffsets } from './sent-offsets.js'

/** Entries read from the log per key and round. */
const READ = 1_000
/** Keys whose last delivery goes again per turn when a link came back (`linkOpened`). */
const TAIL_BATCH = 500
/** How often what a peer is owed is tried again while its send queue is full, ms. */
export const RESEND_MS = 100

/**
 * What a hub declared dead misses, sent again when it is back (docs/routing.md, "Replay to a
 * returning hub"). While a peer counts as dead the owner sends it nothing; so when it goes with
 * interest, the owner notes the offset of every key it numbers, and when its interest is active
 * again (a refuted death, or a restart announcing its interest) it first sends the peer, from the
 * log, what it numbered since for keys it still owns and that match that interest, before
 * anything newer of those keys. The peer's delivery cursors skip what it already had.
 *
 * The same for a peer that stays alive but could not take a delivery (its send queue full, its
 * connection down for a moment): the owner notes the key's offset before the dropped message.
 *
 * Either way the peer is then owed the key from an offset (`#owed`): it gets nothing of the key
 * live, and what it is owed goes from the log, in order — at once, then every `RESEND_MS` while
 * its send queue is full — until it has caught up; then live deliveries of the key go on.
 */
export class PeerReplay {
  /** Peers gone with interest: the offset of each key this hub numbered then. */
  readonly #missed = new Map<string, Map<string, Offset>>()
  /** Live peers owed messages: per key, the offset after which they are owed them, and whether they are owed them for having been gone (which counter counts them). */
  readonly #owed = new Map<string, Map<string, { from: Offset, returning: boolean }>>()
  #resendTimer: TimerHandle | undefined
  #stopped = false
  /** Per peer, the latest round of `linkOpened` (an earlier one still running stops). */
  readonly #tailRounds = new Map<string, number>()

  constructor(private readonly deps: {
    sequencer: Pick<Sequencer, 'ownedKeys' | 'offsetOf'>
    topicLog: Pick<TopicLog, 'since'>
    interest: Pick<InterestTable, 'isActive' | 'isDormant' | 'peersFor'>
    bus: Pick<PeerBus, 'send'>
    /** What each peer was last sent of each key, live or from here (the `from` of later deliveries). */
    sent: Pick<SentOffsets, 'fromFor' | 'sent' | 'lastSent' | 'lastOf'>
    owns(key: string): boolean
    stats: { replayedToReturningPeers: number, deliveriesResent: number, tailsResent: number }
    clock: Clock
    log: Logger
  }) {}

  /** The peer is gone (its interest just went dormant): note where each owned key stands. */
  gone(peer: string): void {
    if (!this.deps.interest.isDormant(peer) || this.#missed.has(peer)) return
    const owed = this.#owed.get(peer)
    this.#owed.delete(peer)
    const from = new Map<string, Offset>()
    for (const key of this.deps.sequencer.ownedKeys) {
      const offset = owed?.get(key)?.from ?? this.deps.sequencer.offsetOf(key)
      if (offset) from.set(key, offset)
    }
    this.#missed.set(peer, from)
  }

  /** The peer may be back (its interest changed or revived): it is owed what it missed, sent at once, once its interest is active. */
  back(peer: string): void {
    const missed = this.#missed.get(peer)
    if (!missed || !this.deps.interest.isActive(peer)) return
    this.#missed.delete(peer)
    const owed = this.#owedBy(peer)
    for (const [key, from] of missed) if (!owed.has(key)) owed.set(key, { from, returning: true })
    this.#resend()
  }

  /** A delivery of `key` to the live `peer` could not be queued: it and what follows go from the log. */
  dropped(peer: string, key: string, before: Offset): void {
    const owed = this.#owedBy(peer)
    if (!owed.has(key)) owed.set(key, { from: before, returning: false })
    this.#arm()
  }

  /**
   * The link to the live `peer` opened again, to the same run of it: what was written into the
   * one that broke may be lost, and a lost delivery shows only with the key's next one (its
   * `from`). So the last delivery of each key this hub still owns goes again, from the log,
   * claiming what it claimed the first time: a peer that has it skips it (its delivery cursor), one
   * that lost it (and what came before it) reads the gap and hands it over. The last messages of a
   * key that went quiet after the break reach the peer then, not with the key's next publish.
   */
  linkOpened(peer: string): void {
    // On a later turn, not inside the link's handshake, and TAIL_BATCH keys a turn: one log read
    // and one frame per key this hub sent the peer. Each key's last delivery is looked up as its
    // turn comes (live ones may have gone since); a link that opens again meanwhile starts a new
    // round, and this one ends.
    const keys = [...this.deps.sent.lastSent(peer)].map(([key]) => key)
    const round = (this.#tailRounds.get(peer) ?? 0) + 1
    this.#tailRounds.set(peer, round)
    const next = (): void => {
      if (this.#stopped || this.#tailRounds.get(peer) !== round || !this.deps.interest.isActive(peer)) return
      try {
        for (const key of keys.splice(0, TAIL_BATCH)) {
          const last = this.deps.sent.lastOf(peer, key)
          if (last) this.#resendTail(peer, key, last)
        }
      } catch (err) {
        this.deps.log.warn({ err, peer }, 'router: the last deliveries to a peer whose link came back could not be sent again')
        return
      }
      if (keys.length > 0) this.deps.clock.setTimeout(next, 0).unref()
    }
    this.deps.clock.setTimeout(next, 0).unref()
  }

  #resendTail(peer: string, key: string, last: Offset): void {
    // Owed already: those resends name their predecessors. Moved, or numbered here in a newer
    // epoch since (this hub gave the key up without a ring change: superseded, or a refuted
    // death): the key's current owner sends what follows, and the old message may have been
    // handed already under the newer epoch's cursor, which would not see it as a repeat.
    if (this.isBehind(peer, key) || !this.deps.owns(key) || this.deps.sequencer.offsetOf(key)?.epoch !== last.epoch) return
    const e = this.deps.topicLog.since(key, { epoch: last.epoch, seq: last.seq - 1 }, 1)[0]
    if (!e || e.epoch !== last.epoch || e.seq !== last.seq) return // gone from the log (retention)
    const frame: DeliverMessage = { t: 'deliver', key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload: e.payload, qos: e.qos }
    const from = this.deps.sent.fromFor(peer, frame)
    if (from) frame.from = { epoch: from.epoch, seq: from.seq }
    if (this.deps.bus.send(peer, frame)) this.deps.stats.tailsResent++
    else this.dropped(peer, key, { epoch: e.epoch, seq: e.seq - 1 })
  }

  /** Whether `peer` is still owed deliveries of `key` (its new ones wait for them). */
  isBehind(peer: string, key: string): boolean { return this.#owed.get(peer)?.has(key) === true }

  stop(): void {
    this.#stopped = true
    this.deps.clock.clearTimeout(this.#resendTimer)
    this.#resendTimer = undefined
  }

  #owedBy(peer: string): Map<string, { from: Offset, returning: boolean }> {
    let owed = this.#owed.get(peer)
    if (!owed) this.#owed.set(peer, owed = new Map())
    return owed
  }

  #arm(): void {
    if (this.#resendTimer !== undefined) return
    this.#resendTimer = this.deps.clock.setTimeout(() => { this.#resendTimer = undefined; this.#resend() }, RESEND_MS)
    this.#resendTimer.unref()
  }

  #resend(): void {
    for (const [peer, keys] of this.#owed) {
      // A dormant peer (declared dead) is `gone`'s and `back`'s.
      if (!this.deps.interest.isActive(peer)) continue
      for (const [key, owed] of keys) {
        // Moved: the peer's delivery cursor reads the gap from the new owner with its first message.
        if (!this.deps.owns(key)) { keys.delete(key); continue }
        const stoppedAt = this.#sendSince(peer, key, owed)
        if (stoppedAt) { owed.from = stoppedAt; break } // its queue is full: next round
        keys.delete(key)
      }
      if (keys.size === 0) this.#owed.delete(peer)
    }
    if (this.#owed.size > 0) this.#arm()
  }

  /** Sends the peer the key's logged messages after `from` that match its interest; the offset it stopped after if one could not be queued. */
  #sendSince(peer: string, key: string, owed: { from: Offset, returning: boolean }): Offset | undefined {
    let cursor = owed.from
    // Each message names the one sent to the peer before it, as live deliveries do (`SentOffsets`):
    // a peer that holds less reads the gap.
    let first = true
    for (;;) {
      const entries = this.deps.topicLog.since(key, cursor, READ)
      for (const e of entries) {
        if (this.deps.interest.peersFor(e.topic).includes(peer)) {
          const frame: DeliverMessage = { t: 'deliver', key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload: e.payload, qos: e.qos }
          // The first names the last delivery this peer was sent (or, with none on record, the
          // offset the resend starts after): what lies between was not for it.
          const claim = this.deps.sent.fromFor(peer, frame)
          const from = first && claim === NO_CLAIM ? owed.from : claim
          if (from) frame.from = { epoch: from.epoch, seq: from.seq }
          if (!this.deps.bus.send(peer, frame)) return cursor
          this.deps.sent.sent(peer, frame, frame.from)
          first = false
          if (owed.returning) this.deps.stats.replayedToReturningPeers++
          else this.deps.stats.deliveriesResent++
        }
        cursor = { epoch: e.epoch, seq: e.seq }
      }
      if (entries.length < READ) return undefined
    }
  }
}
