/**
 * The ring's ownership arcs, computed in the browser the way the hub places keys
 * (hub/src/ring/ring.ts, DESIGN.md §2): each key-owning hub `id` gets `VNODES` digests
 * md5(`hub:<id>-<i>`), each yielding `REPLICAS` 32-bit points (bytes 4j..4j+3 little-endian); a
 * hash h belongs to the first point at or after it, wrapping. The ring view's checksum names
 * these settings (`RING_FORMAT`), so `ringArcs` knows when its picture is exact: when the
 * checksum it computes equals the hub's. Pure functions, no DOM.
 */
import type { RingMemberView, RingView, RingVnodesView } from '../../../../hub/src/contract/ring-view.js'
import { md5 } from './md5.js'

export const VNODES = 100
export const REPLICAS = 4
const SERVER_PREFIX = 'hub:'
/** Must equal hub/src/ring/ring.ts's RING_FORMAT (a unit test compares them). */
export const RING_FORMAT = `hashring/md5/v${VNODES}/r${REPLICAS}/${SERVER_PREFIX}`
const HASH_SPACE = 2 ** 32

/** One arc of the circle, as fractions of the keyspace: (start, end], owned by `owner`. */
export interface Arc {
  owner: string
  start: number
  end: number
}

export interface RingArcs {
  arcs: Arc[]
  /** Fraction of the keyspace per owner, from the arcs. */
  shares: Map<string, number>
  /** True when the computed checksum equals the view's: the arcs are the hub's own. */
  exact: boolean
}

/** Members that own keys (ring.ts `ownsKeys`): hubs alive or suspect. */
export function keyOwners(members: readonly RingMemberView[]): string[] {
  return members.filter((m) => (m.meta.role ?? 'hub') === 'hub' && (m.state === 'alive' || m.state === 'suspect'))
    .map((m) => m.id).sort(compare)
}

/** The 32-bit position of a key on the continuum (hashring's `hashValue`). */
export function hashPosition(key: string): number {
  const d = md5(key)
  return ((d[3] as number) << 24 | (d[2] as number) << 16 | (d[1] as number) << 8 | (d[0] as number)) >>> 0
}

/** Sorted continuum points of `ids`; on equal values the point of the earlier (sorted) id first. */
export function continuum(ids: readonly string[]): Array<{ value: number, owner: string }> {
  const points: Array<{ value: number, owner: string, order: number }> = []
  const sorted = [...new Set(ids)].sort(compare)
  sorted.forEach((id, order) => {
    for (let i = 0; i < VNODES; i++) {
      const d = md5(`${SERVER_PREFIX}${id}-${i}`)
      for (let j = 0; j < REPLICAS; j++) {
        const value = ((d[3 + j * 4] as number) << 24 | (d[2 + j * 4] as number) << 16 | (d[1 + j * 4] as number) << 8 | (d[j * 4] as number)) >>> 0
        points.push({ value, owner: id, order })
      }
    }
  })
  points.sort((x, y) => x.value - y.value || x.order - y.order)
  return points.map(({ value, owner }) => ({ value, owner }))
}

/** Arcs of the given key-owning hubs, adjacent arcs of one owner merged. */
export function arcsOf(ids: readonly string[]): Arc[] {
  return arcsOfPoints(continuum(ids))
}

/** Arcs of sorted continuum points (computed here, or the hub's own from `GET /api/v1/ring/vnodes`). */
export function arcsOfPoints(points: ReadonlyArray<{ value: number, owner: string }>): Arc[] {
  if (points.length === 0) return []
  const arcs: Arc[] = []
  let start = (points[points.length - 1] as { value: number }).value - HASH_SPACE
  for (const p of points) {
    const last = arcs[arcs.length - 1]
    if (last && last.owner === p.owner) last.end = p.value / HASH_SPACE
    else arcs.push({ owner: p.owner, start: start / HASH_SPACE, end: p.value / HASH_SPACE })
    start = p.value
  }
  // The first arc starts below 0 (it wraps): split it so every arc lies in [0, 1].
  const first = arcs[0] as Arc
  if (first.start < 0) {
    arcs.push({ owner: first.owner, start: 1 + first.start, end: 1 })
    first.start = 0
  }
  return arcs
}

/**
 * The view's arcs, shares and whether they are exact (see the module comment). With the hub's
 * own vnode positions of the same ring (same checksum) they are drawn from those, exactly,
 * whatever the hub's hashing settings.
 */
export function ringArcs(view: RingView, vnodes?: RingVnodesView): RingArcs {
  const owners = keyOwners(view.members)
  const fromHub = vnodes !== undefined && vnodes.checksum === view.checksum && vnodes.positions.length === vnodes.owners.length
  const arcs = fromHub ? arcsOfPoints(vnodes.positions.map((value, i) => ({ value, owner: vnodes.owners[i] as string }))) : arcsOf(owners)
  const shares = new Map<string, number>()
  for (const a of arcs) shares.set(a.owner, (shares.get(a.owner) ?? 0) + (a.end - a.start))
  return { arcs, shares, exact: fromHub || ringChecksum(RING_FORMAT, owners) === view.checksum }
}

/** The owner of `key` and the next distinct hubs (hashring `range(key, n, true)`). */
export function replicasOf(ids: readonly string[], key: string, n: number): string[] {
  const points = continuum(ids)
  if (points.length === 0) return []
  const h = hashPosition(key)
  let i = points.findIndex((p) => p.value >= h)
  if (i < 0) i = 0
  const out: string[] = []
  for (let k = 0; k < points.length && out.length < n; k++) {
    const owner = (points[(i + k) % points.length] as { owner: string }).owner
    if (!out.includes(owner)) out.push(owner)
  }
  return out
}

/** hub/src/ring/checksum.ts's ringChecksum: FNV-1a 32 over the format and length-prefixed ids. */
export function ringChecksum(format: string, sortedIds: readonly string[]): string {
  const enc = new TextEncoder()
  let h = fnv(enc.encode(format), 0x811c9dc5)
  for (const id of sortedIds) {
    const b = enc.encode(id)
    h = fnv(new Uint8Array([(b.length >>> 24) & 0xff, (b.length >>> 16) & 0xff, (b.length >>> 8) & 0xff, b.length & 0xff]), h)
    h = fnv(b, h)
  }
  return h.toString(16).padStart(8, '0')
}

function fnv(bytes: Uint8Array, hash: number): number {
  let h = hash
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0
  return h >>> 0
}

/** Code-unit order, as the hub sorts ids (not localeCompare). */
export function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0
}
