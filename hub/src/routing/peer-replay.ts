import type { Logger } from '../base/log.js'
import type { Offset, TopicLog } from '../store/topic-log.js'
import type { InterestTable } from './interest-table.js'
import type { PeerBus } from './peer-bus.js'
import type { Sequencer } from './sequencer.js'

/** Messages one returning peer is sent at most. */
export const MAX_REPLAY = 20_000
/** Entries read from the log per key and round. */
const READ = 1_000

/**
 * What a hub declared dead misses, sent again when it is back (docs/routing.md, "Replay to a
 * returning hub"). While a peer counts as dead the owner sends it nothing; so when it goes with
 * interest, the owner notes the offset of every key it numbers, and when its interest is active
 * again (a refuted death, or a restart announcing its interest) it first sends the peer, from the
 * log, what it numbered since for keys it still owns and that match that interest, before
 * anything newer on the same ordered link. The peer's delivery cursors skip what it already had.
 */
export class PeerReplay {
  /** Peers gone with interest: the offset of each key this hub numbered then. */
  readonly #missed = new Map<string, Map<string, Offset>>()

  constructor(private readonly deps: {
    sequencer: Pick<Sequencer, 'ownedKeys' | 'offsetOf'>
    topicLog: Pick<TopicLog, 'since'>
    interest: Pick<InterestTable, 'isActive' | 'isDormant' | 'peersFor'>
    bus: Pick<PeerBus, 'send'>
    owns(key: string): boolean
    stats: { replayedToReturningPeers: number }
    log: Logger
  }) {}

  /** The peer is gone (its interest just went dormant): note where each owned key stands. */
  gone(peer: string): void {
    if (!this.deps.interest.isDormant(peer) || this.#missed.has(peer)) return
    const from = new Map<string, Offset>()
    for (const key of this.deps.sequencer.ownedKeys) {
      const offset = this.deps.sequencer.offsetOf(key)
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
}
