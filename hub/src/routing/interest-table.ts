import { topicMatches } from '../ring/topic-match.js'

/**
 * The owner's view of which peer hubs want which topics (DESIGN §2): each peer's subscription
 * filters, keyed and global alike, as that peer last announced them. Soft state: a peer's
 * `replace` overwrites everything it said before; a dead peer's entry is dropped.
 */
const NONE: readonly string[] = Object.freeze([])

export class InterestTable {
  readonly #byPeer = new Map<string, Set<string>>()

  replace(peer: string, filters: readonly string[]): void {
    if (filters.length === 0) this.#byPeer.delete(peer)
    else this.#byPeer.set(peer, new Set(filters))
  }

  add(peer: string, filters: readonly string[]): void {
    let set = this.#byPeer.get(peer)
    if (!set) this.#byPeer.set(peer, set = new Set())
    for (const f of filters) set.add(f)
  }

  remove(peer: string, filters: readonly string[]): void {
    const set = this.#byPeer.get(peer)
    if (!set) return
    for (const f of filters) set.delete(f)
    if (set.size === 0) this.#byPeer.delete(peer)
  }

  dropPeer(peer: string): void { this.#byPeer.delete(peer) }

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

  filtersOf(peer: string): string[] { return [...this.#byPeer.get(peer) ?? []] }
}
