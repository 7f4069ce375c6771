import { topicMatches } from '../ring/topic-match.js'

/**
 * The owner's view of which peer hubs want which topics (DESIGN §2): each peer's subscription
 * filters, keyed and global alike, as that peer last announced them. Soft state: a peer's
 * `replace` overwrites everything it said before. A dead peer's entry goes dormant (nothing is
 * sent to it) and comes back when the peer does: a hub wrongly declared dead (paused, then
 * refuting) still holds the same subscriptions and has no reason to announce them again before
 * its next periodic refresh, up to 30 s later.
 */
const NONE: readonly string[] = Object.freeze([])

export class InterestTable {
  readonly #byPeer = new Map<string, Set<string>>()
  /** Interest of peers last seen dead or gone (one entry per such peer). */
  readonly #dormant = new Map<string, Set<string>>()
  /** Peers that have told this hub their interest at least once (an empty `replace` counts). */
  readonly #heard = new Set<string>()

  /** Whether `peer` has told this hub its interest since this hub started. */
  heardFrom(peer: string): boolean { return this.#heard.has(peer) }

  replace(peer: string, filters: readonly string[]): void {
    this.#heard.add(peer)
    this.#dormant.delete(peer)
    if (filters.length === 0) this.#byPeer.delete(peer)
    else this.#byPeer.set(peer, new Set(filters))
  }

  add(peer: string, filters: readonly string[]): void {
    this.#heard.add(peer)
    this.peerBack(peer)
    let set = this.#byPeer.get(peer)
    if (!set) this.#byPeer.set(peer, set = new Set())
    for (const f of filters) set.add(f)
  }

  remove(peer: string, filters: readonly string[]): void {
    this.#heard.add(peer)
    this.peerBack(peer)
    const set = this.#byPeer.get(peer)
    if (!set) return
    for (const f of filters) set.delete(f)
    if (set.size === 0) this.#byPeer.delete(peer)
  }

  /** The peer died or left: nothing more goes to it; its interest stays dormant. */
  dropPeer(peer: string): void {
    const set = this.#byPeer.get(peer)
    if (set) this.#dormant.set(peer, set)
    this.#byPeer.delete(peer)
  }

  /** The peer is alive again (a refuted death; a restarted hub also sends its own `replace`). */
  peerBack(peer: string): void {
    const set = this.#dormant.get(peer)
    if (!set) return
    this.#dormant.delete(peer)
    if (!this.#byPeer.has(peer)) this.#byPeer.set(peer, set)
  }

  /** Peers with at least one filter matching `topic`: each gets the message once. */
  peersFor(topic: string): readonly string[] {
    if (this.#byPeer.size === 0) return NONE
    const peers: string[] = []
    for (const [peer, filters] of this.#byPeer) {
      for (const f of filters) {
        if (topicMatches(f, topic)) { peers.push(peer); break }
      }
    }
    return peers
  }

  /** Whether the peer's interest is active (not dormant, not unknown). */
  isActive(peer: string): boolean { return this.#byPeer.has(peer) }

  /** Whether the peer has dormant interest (it died or left with filters). */
  isDormant(peer: string): boolean { return this.#dormant.has(peer) }

  filtersOf(peer: string): string[] { return [...this.#byPeer.get(peer) ?? []] }
}
