/**
 * The Ring tab's router-link summary (pure, no DOM): which hubs cannot reach which over the
 * router while both are members, and for how long. Gossip and the router are separate paths, so
 * a hub can be alive to the ring and still unreachable for routing (its router port blocked, a
 * black-holed path): its keys' messages then stall at the hubs that cannot link to it.
 */
import type { RouterLinkView } from '../../../../hub/src/contract/admin-api.js'

export interface LinkSummary {
  /** Links reported down, longest down first. */
  down: Array<{ from: string, to: string, forMs: number }>
  up: number
  /** Hubs that reported their links. */
  reporting: number
}

/**
 * `elapsedMs`: time since the answer came, by this computer's clock (how long a link has been
 * down is the hub's `forMs` then, plus that: the hub's clock and this one's may differ).
 */
export function linkSummary(answer: { hubs: readonly string[], links: readonly RouterLinkView[] }, elapsedMs: number): LinkSummary {
  const down = answer.links.filter((l) => !l.up).map((l) => ({ from: l.from, to: l.to, forMs: l.forMs + Math.max(0, elapsedMs) }))
  // A stable sort: links down equally long keep the route's order (by from, then to).
  down.sort((a, b) => b.forMs - a.forMs)
  return { down, up: answer.links.length - down.length, reporting: answer.hubs.length }
}

/** "4 s", "2 min 5 s", "3 h 12 min": how long a link has been down. */
export function downFor(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}
