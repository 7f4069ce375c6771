import { describe, expect, it } from 'vitest'
import { seededRng } from '../../hub/src/base/rng.js'
import { diffContinua, HASH_SPACE, type Continuum, type OwnershipMove } from '../../hub/src/ring/ownership-diff.js'
import { OwnershipTracker, type OwnershipChanged } from '../../hub/src/ring/ownership-tracker.js'
import { diffRings, Ring, type RingCandidate } from '../../hub/src/ring/ring.js'

const SEED = 7
const U = 1 / HASH_SPACE // the share of one hash value

/** A hand-made continuum: `"A@100 B@200"` → points 100 (A) and 200 (B). */
function continuum(spec: string): Continuum {
  const points = spec.split(' ').filter(Boolean).map((p) => p.split('@') as [string, string])
  return { positions: Uint32Array.from(points.map(([, at]) => Number(at))), owners: points.map(([owner]) => owner) }
}

const total = (moves: readonly OwnershipMove[]): number => moves.reduce((sum, m) => sum + m.share, 0)

/** Seeded hub-id sets, so a failure names its seed. */
function hubSets(count: number, size: number): string[][] {
  const rng = seededRng(SEED)
  return Array.from({ length: count }, () => Array.from({ length: size }, () => `gw-${rng.int(1e9).toString(36)}`))
}

describe('diffContinua', () => {
  const END = HASH_SPACE - 1
  it.each<[string, string, string, OwnershipMove[]]>([
    ['nothing changed', 'A@100 B@200', 'A@100 B@200', []],
    ['C splits B\'s arc', 'A@100 B@200', 'A@100 C@150 B@200', [{ from: 'B', to: 'C', share: 50 * U }]],
    ['C takes the wrapping arc from A', 'A@100 B@200', 'A@100 B@200 C@' + END, [{ from: 'A', to: 'C', share: (END - 200) * U }]],
    ['C lands before the first point', 'A@100 B@200', 'C@10 A@100 B@200', [{ from: 'A', to: 'C', share: (HASH_SPACE - 200 + 10) * U }]],
    ['B leaves: A takes its arc', 'A@100 B@200', 'A@100', [{ from: 'B', to: 'A', share: 100 * U }]],
    ['A leaves: B takes the wrap', 'A@100 B@200', 'B@200', [{ from: 'A', to: 'B', share: (HASH_SPACE - 100) * U }]],
    ['a tie goes to the first point', 'A@100 B@200', 'A@100 C@200 B@200', [{ from: 'B', to: 'C', share: 100 * U }]],
    ['first hub: everything from null', '', 'A@100 B@200', [{ from: null, to: 'A', share: (HASH_SPACE - 100) * U }, { from: null, to: 'B', share: 100 * U }]],
    ['last hub leaves: nothing to move to', 'A@100', '', []],
    ['both empty', '', '', []],
    ['two moves, sorted by from then to', 'A@100 B@200 A@300', 'A@100 C@150 B@200 D@250 A@300',
      [{ from: 'A', to: 'D', share: 50 * U }, { from: 'B', to: 'C', share: 50 * U }]],
  ])('%s', (_name, before, after, expected) => {
    expect(diffContinua(continuum(before), continuum(after))).toEqual(expected)
  })
})

describe('diffRings', () => {
  // One hub's share of 4 is the sum of 400 arcs: relative σ ≈ 1/√400 = 5%, so σ ≈ 0.0125 around
  // 1/4. ±0.05 is 4σ: "about a quarter" for every one of the 20 seeded rings.
  it.each(hubSets(20, 4).map((set, i) => [i, set] as const))('a 4th hub joining 3 takes about 1/4, all of it (set %i)', (_i, set) => {
    const [joiner, ...old] = set as [string, ...string[]]
    const before = new Ring(old)
    const after = new Ring(set)
    const moves = diffRings(before, after)
    for (const m of moves) {
      expect(m.to).toBe(joiner)
      expect(old).toContain(m.from)
    }
    expect(new Set(moves.map((m) => m.from)).size).toBe(3) // it takes from every old hub
    expect(total(moves)).toBe(after.shareOf(joiner)) // exact, not approximate
    expect(Math.abs(total(moves) - 0.25)).toBeLessThan(0.05)
  })

  it.each(hubSets(10, 5).map((set, i) => [i, set] as const))('a leaving hub hands exactly its share to the others (set %i)', (_i, set) => {
    const [leaver, ...rest] = set as [string, ...string[]]
    const before = new Ring(set)
    const after = new Ring(rest)
    const moves = diffRings(before, after)
    for (const m of moves) {
      expect(m.from).toBe(leaver)
      expect(rest).toContain(m.to)
    }
    expect(total(moves)).toBe(before.shareOf(leaver))
    for (const id of rest) {
      const gained = moves.filter((m) => m.to === id).reduce((s, m) => s + m.share, 0)
      expect(after.shareOf(id) - before.shareOf(id)).toBe(gained)
    }
  })

  it('matches sampled keys for a mixed change (2 join, 1 leaves)', () => {
    const before = new Ring(['a', 'b', 'c', 'd'])
    const after = new Ring(['a', 'b', 'd', 'e', 'f'])
    const moves = diffRings(before, after)
    const rng = seededRng(SEED)
    const n = 100_000
    const sampled = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const key = `devices/${rng.int(2 ** 31).toString(36)}`
      const from = before.ownerOf(key) as string
      const to = after.ownerOf(key) as string
      if (from !== to) sampled.set(`${from}→${to}`, (sampled.get(`${from}→${to}`) ?? 0) + 1)
    }
    // Every sampled move is a computed one, and fractions agree within 0.01 (σ ≤ 0.0016 at n = 100k).
    expect([...sampled.keys()].every((k) => moves.some((m) => `${m.from}→${m.to}` === k))).toBe(true)
    for (const m of moves) {
      expect(Math.abs((sampled.get(`${m.from}→${m.to}`) ?? 0) / n - m.share), `seed ${SEED} ${m.from}→${m.to}`).toBeLessThan(0.01)
    }
    // Conservation: each hub's share changes by what it gained minus what it lost.
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const net = moves.reduce((s, m) => s + (m.to === id ? m.share : 0) - (m.from === id ? m.share : 0), 0)
      expect(after.shareOf(id) - before.shareOf(id)).toBeCloseTo(net, 12)
    }
  })
})

describe('OwnershipTracker', () => {
  const hub = (id: string, state: RingCandidate['state'] = 'alive'): RingCandidate => ({ id, state, meta: { role: 'hub' } })
  const observer = (id: string): RingCandidate => ({ id, state: 'alive', meta: { role: 'observer' } })

  function tracked(): { tracker: OwnershipTracker, events: OwnershipChanged[] } {
    const tracker = new OwnershipTracker()
    const events: OwnershipChanged[] = []
    tracker.on('ownershipChanged', (change) => {
      expect(tracker.ring).toBe(change.after) // installed before listeners run
      events.push(change)
    })
    return { tracker, events }
  }

  it('fires once per change of the key-owning hubs and never for a no-op', () => {
    const { tracker, events } = tracked()
    const returned = tracker.update([hub('a'), hub('b'), hub('c')])
    expect(events).toHaveLength(1)
    expect(returned).toBe(events[0])
    expect(events[0]?.moves.every((m) => m.from === null)).toBe(true)
    expect(total(events[0]?.moves ?? [])).toBe(1)

    // No-ops: same set, other order; a suspect (keeps its keys); an observer; a dead observer.
    expect(tracker.update([hub('c'), hub('a'), hub('b')])).toBeUndefined()
    expect(tracker.update([hub('a'), hub('b', 'suspect'), hub('c'), observer('ui')])).toBeUndefined()
    expect(tracker.update([hub('a'), hub('b'), hub('c'), { ...observer('ui'), state: 'dead' }])).toBeUndefined()
    expect(events).toHaveLength(1)

    tracker.update([hub('a'), hub('b'), hub('c'), hub('d')])
    tracker.update([hub('a'), hub('b'), hub('c'), hub('d')])
    expect(events).toHaveLength(2)
    expect(events[1]?.moves.every((m) => m.to === 'd')).toBe(true)
    expect(events[1]?.before.members).toEqual(['a', 'b', 'c'])
    expect(events[1]?.after.members).toEqual(['a', 'b', 'c', 'd'])
    expect(events[1]?.checksum).toBe(new Ring(['d', 'c', 'b', 'a']).checksum)

    tracker.update([hub('a'), hub('b', 'dead'), hub('c'), hub('d')])
    expect(events).toHaveLength(3)
    expect(events[2]?.moves.every((m) => m.from === 'b')).toBe(true)
    expect(total(events[2]?.moves ?? [])).toBe(events[2]?.before.shareOf('b'))
  })

  it('reports the last hub leaving, with nothing to move', () => {
    const { tracker, events } = tracked()
    tracker.update([hub('a')])
    tracker.update([hub('a', 'left')])
    expect(events).toHaveLength(2)
    expect(events[1]?.moves).toEqual([])
    expect(events[1]?.after.size).toBe(0)
  })

  it('starts from a given ring without an event', () => {
    const tracker = new OwnershipTracker(new Ring(['a', 'b']))
    const events: OwnershipChanged[] = []
    tracker.on('ownershipChanged', (c) => events.push(c))
    expect(tracker.update([hub('b'), hub('a')])).toBeUndefined()
    expect(events).toEqual([])
  })
})
