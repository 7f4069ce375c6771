import type { Offset } from '../store/topic-log.js'

/** "No claim": a `from` no cursor is before, so it shows no gap (every offset is after it). */
export const NO_CLAIM: Offset = Object.freeze({ epoch: 0, seq: 0 })

/** Whether a `from` claims nothing: `NO_CLAIM`, compared by value (a decoded one is a copy). */
export function claimsNothing(from: Offset): boolean {
  return from.epoch === 0 && from.seq === 0
}

/**
 * What this hub last sent each peer of each key, so a live delivery says what came before it
 * (`DeliverMessage.from`, docs/routing.md "Deliveries lost in a broken link"). A delivery without
 * `from` claims that the peer's previous delivery of the key was the message just before it (same
 * epoch, `seq - 1`); one whose previous delivery was further back (the peer is interested in some
 * of the key's topics only) names it. A receiver whose cursor is before that claim lost what lies
 * between (written into a link that broke, then reconnected) and reads it from the log first
 * (`DeliveryCursors`), handing over what it wants up to the claim. With nothing on record (this
 * hub restarted, or never sent the peer the key), the delivery carries `NO_CLAIM`, and the
 * receiver checks nothing but the epoch. Bounded by the keys this hub owns (`keepOnly`) × peers.
 */
export class SentOffsets {
  /**
   * Per peer and key: the last delivery sent, the one before it (what its `from` claimed), and
   * the first one sent to this run of the peer.
   */
  readonly #byPeer = new Map<string, Map<string, { epoch: number, seq: number, before: Offset, first: Offset }>>()
  /** Per peer: the run (boot) of it the records are for. */
  readonly #boots = new Map<string, string>()

  /**
   * A link to `peer` opened (`PeerBus.onLinkOpen`), to its run `boot`. To another run than the
   * records are for (it restarted), they are dropped: its deliveries claim nothing until new ones
   * are on record, and `firstOf` names nothing of the run before.
   */
  linkOpened(peer: string, boot: string): void {
    const known = this.#boots.get(peer)
    if (known !== undefined && known !== boot) this.#byPeer.delete(peer)
    this.#boots.set(peer, boot)
  }

  /**
   * The first delivery of `key` this hub sent to this run of `peer`, if on record. A peer with no
   * cursor for the key that gets a delivery claiming earlier ones lost all of them in a link that
   * broke (it hands every delivery it gets); it asks for this (`began` request) and reads them
   * from the log, from here on (`DeliveryCursors`).
   */
  firstOf(peer: string, key: string): Offset | undefined {
    const first = this.#byPeer.get(peer)?.get(key)?.first
    return first && { epoch: first.epoch, seq: first.seq }
  }

  /**
   * The `from` a delivery of `d` to `peer` carries (undefined: the one just before it). The last
   * delivery sent, sent again (`PeerReplay.linkOpened`), claims what it claimed the first time.
   */
  fromFor(peer: string, d: Offset & { key: string }): Offset | undefined {
    const last = this.#byPeer.get(peer)?.get(d.key)
    if (!last) return NO_CLAIM
    const claim = last.epoch === d.epoch && last.seq === d.seq ? last.before : last
    if (claimsNothing(claim)) return NO_CLAIM
    return claim.epoch === d.epoch && claim.seq === d.seq - 1 ? undefined : { epoch: claim.epoch, seq: claim.seq }
  }

  /**
   * `d` went to `peer` (queued on the link), carrying `from` (none: it claimed the message just
   * before it). An earlier one sent again changes nothing.
   */
  sent(peer: string, d: Offset & { key: string }, from: Offset | undefined): void {
    let keys = this.#byPeer.get(peer)
    if (!keys) this.#byPeer.set(peer, keys = new Map())
    const last = keys.get(d.key)
    if (last && !(d.epoch > last.epoch || (d.epoch === last.epoch && d.seq > last.seq))) return
    const before = from === undefined ? { epoch: d.epoch, seq: d.seq - 1 } : claimsNothing(from) ? NO_CLAIM : { epoch: from.epoch, seq: from.seq }
    keys.set(d.key, { epoch: d.epoch, seq: d.seq, before, first: last?.first ?? { epoch: d.epoch, seq: d.seq } })
  }

  /** The last delivery `peer` was sent of `key`, if on record. */
  lastOf(peer: string, key: string): Offset | undefined {
    const last = this.#byPeer.get(peer)?.get(key)
    return last && { epoch: last.epoch, seq: last.seq }
  }

  /** The last delivery `peer` was sent of each key on record. */
  * lastSent(peer: string): IterableIterator<[string, Offset]> {
    for (const [key, last] of this.#byPeer.get(peer) ?? []) yield [key, { epoch: last.epoch, seq: last.seq }]
  }

  /**
   * Keeps the records of the keys `keep` names only (those this hub owns: a key that comes back
   * comes in a new epoch). Peers are kept: one declared dead and back without a restart still
   * holds its cursors (a restarted one is dropped when its link opens, `linkOpened`).
   */
  keepOnly(keep: (key: string) => boolean): void {
    for (const [peer, keys] of this.#byPeer) {
      for (const key of keys.keys()) if (!keep(key)) keys.delete(key)
      if (keys.size === 0) this.#byPeer.delete(peer)
    }
  }

  /** Keys on record, over all peers. */
  get size(): number {
    let n = 0
    for (const keys of this.#byPeer.values()) n += keys.size
    return n
  }
}
