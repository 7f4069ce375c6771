/**
 * Ownership arithmetic on hashring's continuum, exact rather than sampled (DESIGN.md §2: ownership
 * changes are computed by diffing the old and new ring). Pure functions over sorted points.
 *
 * A key hashes to h in [0, 2³²) (md5, first 4 bytes little-endian) and belongs to the first point
 * at or after h, wrapping to point 0 past the last one; of equal points the first wins. So point i
 * owns the arc (p[i-1], p[i]] and point 0 owns (p[last], 2³²) ∪ [0, p[0]]. Shares are counts of
 * hash values divided by 2³², hence exact multiples of 2⁻³² that sum to exactly 1.
 */

/** The full hash space, 2³² values. */
export const HASH_SPACE = 2 ** 32

/** A ring's points: `positions` ascending, `owners[i]` the hub owning the arc ending at point i. */
export interface Continuum {
  readonly positions: Uint32Array
  readonly owners: readonly string[]
}

/** Part of the keyspace that changed owner. */
export interface OwnershipMove {
  /** The previous owner; `null` when no hub owned keys before (the first hub joined). */
  readonly from: string | null
  readonly to: string
  /** Fraction of the keyspace moved, exact (a multiple of 2⁻³²). */
  readonly share: number
}

/** Fraction of the keyspace each hub owns. Every hub on the continuum appears, possibly with 0. */
export function arcShares(c: Continuum): Map<string, number> {
  const counts = new Map<string, number>()
  const n = c.positions.length
  for (let i = 0; i < n; i++) {
    const owner = c.owners[i] as string
    const start = i === 0 ? (c.positions[n - 1] as number) - HASH_SPACE : c.positions[i - 1] as number
    counts.set(owner, (counts.get(owner) ?? 0) + (c.positions[i] as number) - start)
  }
  for (const [owner, count] of counts) counts.set(owner, count / HASH_SPACE)
  return counts
}

/**
 * What moved between two rings, one entry per (from, to) pair, sorted by from then to (`null`
 * first). Empty when nothing moved, and when `after` is empty: with no hub left nothing can move
 * anywhere, and callers see that from the empty ring.
 *
 * Sweeps the union of both rings' points once: between two consecutive points of the union the
 * owner is constant in each ring, so each elementary arc is compared whole. O(P_before + P_after).
 */
export function diffContinua(before: Continuum, after: Continuum): OwnershipMove[] {
  const b = before.positions
  const a = after.positions
  if (a.length === 0) return []
  if (b.length === 0) {
    return [...arcShares(after)].filter(([, share]) => share > 0).sort(([x], [y]) => compare(x, y))
      .map(([to, share]) => ({ from: null, to, share }))
  }
  const counts = new Map<string, Map<string, number>>()
  // The arc ending at the first boundary starts after the last one, wrapping through 0.
  let start = Math.max(b[b.length - 1] as number, a[a.length - 1] as number) - HASH_SPACE
  let i = 0
  let j = 0
  while (i < b.length || j < a.length) {
    const end = Math.min(i < b.length ? b[i] as number : Infinity, j < a.length ? a[j] as number : Infinity)
    // i and j are each ring's first point at or after `end`, or past the last point: wrap to 0.
    const from = before.owners[i < b.length ? i : 0] as string
    const to = after.owners[j < a.length ? j : 0] as string
    if (from !== to) add(counts, from, to, end - start)
    start = end
    while (i < b.length && b[i] === end) i++
    while (j < a.length && a[j] === end) j++
  }
  const moves: OwnershipMove[] = []
  for (const from of [...counts.keys()].sort(compare)) {
    const row = counts.get(from) as Map<string, number>
    for (const to of [...row.keys()].sort(compare)) {
      moves.push({ from, to, share: (row.get(to) as number) / HASH_SPACE })
    }
  }
  return moves
}

function add(counts: Map<string, Map<string, number>>, from: string, to: string, n: number): void {
  let row = counts.get(from)
  if (!row) counts.set(from, row = new Map())
  row.set(to, (row.get(to) ?? 0) + n)
}

/** Code-unit order, the same on every hub (unlike localeCompare). */
function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0
}
