import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { seededRng, shuffle } from '../../hub/src/base/rng.js'
import { fnv1a32, ringChecksum } from '../../hub/src/ring/checksum.js'
import { REPLICAS, Ring, RING_FORMAT, VNODES, type RingCandidate } from '../../hub/src/ring/ring.js'

const SEED = 42
const ids = (n: number, prefix = 'hub'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`)
const deviceKeys = (n: number): string[] => Array.from({ length: n }, (_, i) => `devices/d${i}`)

/** Seeded random keys, so a failure names the seed that reproduces it. */
function randomKeys(n: number, seed: number): string[] {
  const rng = seededRng(seed)
  return Array.from({ length: n }, () => `k/${rng.int(2 ** 30).toString(36)}/${rng.int(1000)}`)
}

const member = (id: string, state: RingCandidate['state'] = 'alive', role: 'hub' | 'observer' = 'hub'): RingCandidate =>
  ({ id, state, meta: { role } })

describe('Ring', () => {
  it('places every hub with VNODES × REPLICAS points, also where hashring floors 40 to 39 (N = 7)', () => {
    for (const n of [1, 3, 7, 49]) {
      expect(new Ring(ids(n)).continuum.positions.length).toBe(n * VNODES * REPLICAS)
    }
  })

  it('is the same ring whatever order (and duplicates) the members come in', () => {
    const rng = seededRng(SEED)
    const base = new Ring(ids(5))
    const keys = randomKeys(2000, SEED)
    for (let round = 0; round < 10; round++) {
      const shuffled = shuffle([...ids(5), ...ids(2)], rng)
      const ring = new Ring(shuffled)
      expect(ring.members, `seed ${SEED} round ${round}`).toEqual(base.members)
      expect(ring.checksum).toBe(base.checksum)
      expect(ring.continuum.positions).toEqual(base.continuum.positions)
      expect(ring.continuum.owners).toEqual(base.continuum.owners)
      expect(keys.map((k) => ring.ownerOf(k))).toEqual(keys.map((k) => base.ownerOf(k)))
    }
  })

  // Invariant 1 (DESIGN.md §3): each hub builds its ring from its own membership snapshot; the
  // snapshots list members in different orders and include observers and dead members.
  it('every hub names the same owner for 10k keys', () => {
    const rng = seededRng(SEED)
    const everyone = [
      ...ids(6).map((id) => member(id)),
      member('gw-suspect', 'suspect'),
      member('gw-dead', 'dead'),
      member('gw-left', 'left'),
      member('desktop', 'alive', 'observer'),
    ]
    const views = ids(6).map(() => Ring.of(shuffle([...everyone], rng)))
    const keys = [...deviceKeys(5000), ...randomKeys(5000, SEED)]
    const owners = keys.map((k) => views[0]?.ownerOf(k))
    expect(new Set(views.map((v) => v.checksum)).size).toBe(1)
    for (const [i, view] of views.entries()) {
      expect(keys.map((k) => view.ownerOf(k)), `seed ${SEED}, view ${i}`).toEqual(owners)
    }
    expect(new Set(owners)).toEqual(new Set([...ids(6), 'gw-suspect']))
  })

  it('owns keys with alive and suspect hubs only', () => {
    const ring = Ring.of([
      member('a'), member('b', 'suspect'), member('c', 'dead'), member('d', 'left'), member('o', 'alive', 'observer'),
    ])
    expect(ring.members).toEqual(['a', 'b'])
    expect(ring.shareOf('o')).toBe(0)
  })

  it('agrees with a plain lookup on the continuum (first point ≥ md5 hash, wrapping)', () => {
    const ring = new Ring(ids(5))
    const { positions, owners } = ring.continuum
    for (const key of randomKeys(10_000, SEED)) {
      const h = createHash('md5').update(key).digest().readUInt32LE(0)
      const i = positions.findIndex((p) => p >= h)
      expect(ring.ownerOf(key), `seed ${SEED}: ${key}`).toBe(owners[i === -1 ? 0 : i])
    }
  })

  it('replicasOf: distinct hubs, owner first, at most the ring size', () => {
    const ring = new Ring(ids(5))
    for (const key of randomKeys(2000, SEED)) {
      for (const n of [1, 2, 3, 5]) {
        const replicas = ring.replicasOf(key, n)
        expect(replicas).toHaveLength(n)
        expect(new Set(replicas).size).toBe(n)
        expect(replicas[0]).toBe(ring.ownerOf(key))
        expect(replicas).toEqual(ring.replicasOf(key, 5).slice(0, n)) // a prefix: successors in order
      }
      expect(new Set(ring.replicasOf(key, 9))).toEqual(new Set(ring.members))
      expect(ring.replicasOf(key, 0)).toEqual([])
      expect(ring.replicasOf(key, 2.5)).toEqual(ring.replicasOf(key, 2))
    }
  })

  it.each([1, 3, 5, 10, 30])('shares of %i hubs sum to exactly 1 and match sampled ownership', (n) => {
    const ring = new Ring(ids(n))
    const shares = ring.members.map((m) => ring.shareOf(m))
    expect(shares.reduce((a, b) => a + b, 0)).toBe(1) // exact: multiples of 2⁻³²
    // Each hub holds 400 points, so its share is within ±30% of fair (≈ 6σ at 5% relative σ).
    for (const s of shares) expect(Math.abs(s * n - 1)).toBeLessThan(0.3)
    // Sampled: a binomial fraction over 100k keys has σ ≤ 0.0016; 0.01 is more than 6σ.
    const keys = randomKeys(100_000, SEED + n)
    const counts = new Map<string, number>()
    for (const k of keys) counts.set(ring.ownerOf(k) as string, (counts.get(ring.ownerOf(k) as string) ?? 0) + 1)
    for (const m of ring.members) expect(Math.abs((counts.get(m) ?? 0) / keys.length - ring.shareOf(m))).toBeLessThan(0.01)
  })

  it('an empty ring owns nothing', () => {
    const ring = new Ring([])
    expect(ring.size).toBe(0)
    expect(ring.ownerOf('devices/d1')).toBeUndefined()
    expect(ring.replicasOf('devices/d1', 3)).toEqual([])
    expect(ring.shareOf('a')).toBe(0)
  })

  it('a single hub owns everything', () => {
    const ring = new Ring(['solo'])
    expect(ring.shareOf('solo')).toBe(1)
    expect(new Set(deviceKeys(1000).map((k) => ring.ownerOf(k)))).toEqual(new Set(['solo']))
  })

  // hashring keeps servers (and its LRU cache keys) as plain-object properties.
  it.each(['__proto__', 'constructor', 'toString', '10.0.0.2:7946', '7', 'zone ü'])('takes the hub id %j', (odd) => {
    const ring = new Ring([odd, 'b', 'c'])
    expect(ring.members).toContain(odd)
    expect(ring.shareOf(odd)).toBeGreaterThan(0.15)
    expect(ring.ownerOf('__proto__')).toMatch(/./)
    expect(ring.replicasOf('constructor', 3)).toHaveLength(3)
    expect(({} as Record<string, unknown>)['value']).toBeUndefined() // no prototype pollution
  })
})

describe('ring checksum', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('FNV-1a 32 of %j is %i (reference vectors)', (text, expected) => {
    expect(fnv1a32(new TextEncoder().encode(text))).toBe(expected)
  })

  it('is equal for equal sets whatever the order', () => {
    expect(new Ring(['c', 'a', 'b']).checksum).toBe(new Ring(['b', 'c', 'a', 'a']).checksum)
    expect(new Ring(['a']).checksum).toMatch(/^[0-9a-f]{8}$/)
  })

  it.each<[string[], string[]]>([
    [['a', 'b'], ['a', 'b', 'c']],
    [['a', 'b'], ['a', 'c']],
    [['a,b'], ['a', 'b']],
    [['ab'], ['a', 'b']],
    [[], ['']],
    [[], ['a']],
  ])('differs for %j and %j', (x, y) => {
    expect(new Ring(x).checksum).not.toBe(new Ring(y).checksum)
  })

  it('covers the ring settings, so hubs that place keys differently never look equal', () => {
    expect(ringChecksum(RING_FORMAT, ['a'])).not.toBe(ringChecksum('hashring/md5/v40/r4/hub:', ['a']))
  })
})
