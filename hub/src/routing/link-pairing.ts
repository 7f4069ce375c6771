/**
 * Who dials whom on the inter-hub link, and when to dial again (docs/routing.md). One connection
 * per pair of hubs: the rule must give the same answer at both ends without talking.
 */

/** Of two hubs, the one with the smaller id (UTF-16 order, the same on every hub) dials. */
export function dials(from: string, to: string): boolean {
  return from < to
}

export const REDIAL_MIN_MS = 100
export const REDIAL_MAX_MS = 5_000
/** A link that stayed up this long was healthy. */
export const STABLE_LINK_MS = 5_000

/**
 * How long the dialing end waits before it dials again, given the last wait: not at all after a
 * link that was stable (the peer may just have restarted), else doubling from 100 ms to 5 s — so
 * a peer that keeps refusing, or two hubs misconfigured with one id that keep taking the link
 * from each other, cost a dial every 5 s at most.
 */
export function redialDelayMs(previousMs: number, stable: boolean): number {
  return stable ? 0 : Math.min(REDIAL_MAX_MS, Math.max(REDIAL_MIN_MS, previousMs * 2))
}
