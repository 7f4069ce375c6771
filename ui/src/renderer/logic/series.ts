/**
 * Time series for the live charts: points per named series, kept for a window (15 minutes by
 * default, as the Traffic view shows) and trimmed on insert. Pure, no DOM.
 */

export interface Point {
  tsMs: number
  value: number
}

export class SeriesSet {
  readonly #series = new Map<string, Point[]>()

  /** `windowMs`: how far back points are kept (default 15 min). */
  constructor(readonly windowMs = 15 * 60_000) {}

  /** Adds a point; a point at the same time as the series' last replaces it (a re-sent interval). */
  add(name: string, tsMs: number, value: number): void {
    let points = this.#series.get(name)
    if (!points) this.#series.set(name, points = [])
    const last = points[points.length - 1]
    if (last && last.tsMs === tsMs) last.value = value
    else if (!last || last.tsMs < tsMs) points.push({ tsMs, value })
    else {
      // Out of order (history arriving after live points): insert in place.
      const i = points.findIndex((p) => p.tsMs >= tsMs)
      if (points[i]?.tsMs === tsMs) (points[i] as Point).value = value
      else points.splice(i, 0, { tsMs, value })
    }
    this.trim(tsMs)
  }

  /** Drops points older than the window before `nowMs`. */
  trim(nowMs: number): void {
    for (const points of this.#series.values()) {
      let drop = 0
      while (drop < points.length && (points[drop] as Point).tsMs < nowMs - this.windowMs) drop++
      if (drop > 0) points.splice(0, drop)
    }
  }

  get(name: string): readonly Point[] { return this.#series.get(name) ?? [] }
  names(): string[] { return [...this.#series.keys()] }
  clear(): void { this.#series.clear() }

  /** Highest value of the named series over the window (0 when empty). */
  max(names: readonly string[]): number {
    let m = 0
    for (const n of names) for (const p of this.get(n)) if (p.value > m) m = p.value
    return m
  }
}

/**
 * How far back the stats poll reaches before the newest point it has, ms: the hubs answer one
 * gathering at slightly different moments, so a hub can take a point older than another hub's
 * newest after the poll that brought that one (a poll from just after it would skip the point).
 * Points asked for twice replace themselves (`SeriesSet.add`).
 */
export const STATS_POLL_OVERLAP_MS = 5_000

/** Where the next stats poll starts: the whole window at first, then the overlap before the newest point (`pollAnchorMs`). */
export function statsPollSinceMs(newestPointMs: number, nowMs: number, windowMs: number): number {
  return newestPointMs > 0 ? newestPointMs - STATS_POLL_OVERLAP_MS : nowMs - windowMs
}

/**
 * How far behind the newest point of all a hub's newest point may be and still hold the poll
 * back, ms. Each hub stamps its points by its own clock and the poll asks with one `sinceMs`: a
 * hub whose clock is behind (up to this much) is not skipped; one that stopped answering (down,
 * left) no longer holds the poll back once it is this far behind.
 */
export const STATS_POLL_SKEW_MS = 60_000

/** The point the next poll starts from (before the overlap): the oldest of the hubs' newest points within STATS_POLL_SKEW_MS of the newest; 0 when there is none yet. */
export function pollAnchorMs(newestByHub: ReadonlyMap<string, number>): number {
  const newest = Math.max(0, ...newestByHub.values())
  let anchor = newest
  for (const ms of newestByHub.values()) if (ms >= newest - STATS_POLL_SKEW_MS && ms < anchor) anchor = ms
  return anchor
}
