import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import {
  Suspicion, expectedConfirmations, remainingSuspicionMs, suspicionBoundsMs, suspicionTimeoutMs,
} from '../../hub/src/membership/suspicion.js'

describe('suspicionTimeoutMs', () => {
  // memberlist util_test.go TestSuspicionTimeout (mult 3, interval 1 s), ×3, plus our profiles.
  it.each([
    [0, 3, 1000, 3000],
    [1, 3, 1000, 3000],
    [5, 3, 1000, 3000],
    [10, 3, 1000, 3000],
    [50, 3, 1000, 5094],
    [100, 3, 1000, 6000],
    [500, 3, 1000, 8094],
    [1000, 3, 1000, 9000],
    [3, 4, 1000, 4000],
    [100, 4, 1000, 8000],
    [10, 3, 200, 600],
    [50, 4, 200, 1358],
    [1000, 3, 200, 1800],
  ])('n=%i mult=%i interval=%i → %i ms', (n, suspicionMult, probeIntervalMs, expected) => {
    expect(suspicionTimeoutMs({ n, suspicionMult, probeIntervalMs })).toBe(expected)
  })

  it('max is suspicionMaxTimeoutMult × min', () => {
    expect(suspicionBoundsMs({ n: 10, suspicionMult: 4, probeIntervalMs: 1000, suspicionMaxTimeoutMult: 6 }))
      .toEqual({ minMs: 4000, maxMs: 24_000 })
  })
})

describe('expectedConfirmations', () => {
  it.each([
    [4, 1, 0],
    [4, 2, 0],
    [4, 3, 1],
    [4, 4, 2],
    [4, 100, 2],
    [3, 3, 1],
    [3, 10, 1],
    [2, 10, 0],
    [1, 10, 0],
  ])('suspicionMult=%i n=%i → k=%i', (mult, n, k) => {
    expect(expectedConfirmations(mult, n)).toBe(k)
  })
})

describe('remainingSuspicionMs', () => {
  // memberlist suspicion_test.go TestSuspicion_remainingSuspicionTime, then k = 0 and k = 1.
  it.each([
    [0, 3, 0, 2000, 30_000, 30_000],
    [1, 3, 2000, 2000, 30_000, 14_000],
    [2, 3, 3000, 2000, 30_000, 4810],
    [3, 3, 4000, 2000, 30_000, -2000],
    [4, 3, 5000, 2000, 30_000, -3000],
    [5, 3, 10_000, 2000, 30_000, -8000],
    [0, 0, 0, 2000, 30_000, 2000],
    [0, 0, 500, 2000, 30_000, 1500],
    [0, 1, 0, 600, 3600, 3600],
    [1, 1, 100, 600, 3600, 500],
  ])('c=%i k=%i elapsed=%i min=%i max=%i → %i', (confirmations, k, elapsedMs, minMs, maxMs, expected) => {
    expect(remainingSuspicionMs({ confirmations, k, elapsedMs, minMs, maxMs })).toBe(expected)
  })
})

/** Runs a suspicion with min 1 s, max 6 s; `confirmations` are [atMs, from] pairs. */
function run(k: number, confirmations: [number, string][], untilMs = 10_000) {
  const clock = new ManualClock()
  const startMs = clock.monotonicMs()
  const fired: { atMs: number; confirmations: number }[] = []
  const accepted: boolean[] = []
  const suspicion = new Suspicion({
    clock, from: 'a', k, minMs: 1000, maxMs: 6000,
    onTimeout: (count) => fired.push({ atMs: clock.monotonicMs() - startMs, confirmations: count }),
  })
  for (const [atMs, from] of confirmations) {
    clock.advance(atMs - (clock.monotonicMs() - startMs))
    accepted.push(suspicion.confirm(from))
  }
  clock.advance(untilMs - (clock.monotonicMs() - startMs))
  return { fired, accepted, suspicion, clock }
}

describe('Suspicion', () => {
  it.each([
    // k, confirmations, fires at, counted
    [2, [], 6000, 0],
    [2, [[500, 'b']], 2845, 1],
    [2, [[500, 'b'], [600, 'c']], 1000, 2],
    [2, [[500, 'b'], [2000, 'c']], 2000, 2],
    [3, [[100, 'b']], 3500, 1],
    [3, [[100, 'b'], [200, 'c']], 2037, 2],
    [3, [[100, 'b'], [200, 'c'], [300, 'd']], 1000, 3],
    [0, [], 1000, 0],
  ] as [number, [number, string][], number, number][])('k=%i, confirmations %j → fires at %i ms with %i', (k, confirmations, atMs, counted) => {
    const { fired } = run(k, confirmations)
    expect(fired).toEqual([{ atMs, confirmations: counted }])
  })

  it('ignores the starter, repeated confirmers, and confirmations beyond k', () => {
    const { accepted, fired } = run(2, [[100, 'a'], [200, 'b'], [300, 'b'], [400, 'c'], [500, 'd']])
    expect(accepted).toEqual([false, true, false, true, false])
    expect(fired).toEqual([{ atMs: 1000, confirmations: 2 }])
  })

  it('with k = 0 accepts no confirmation', () => {
    const { accepted, fired } = run(0, [[100, 'b']])
    expect(accepted).toEqual([false])
    expect(fired).toEqual([{ atMs: 1000, confirmations: 0 }])
  })

  it('a confirmation past the minimum fires on the next turn of the clock, not inside confirm()', () => {
    const clock = new ManualClock()
    let fired = 0
    const suspicion = new Suspicion({ clock, from: 'a', k: 1, minMs: 1000, maxMs: 6000, onTimeout: () => fired++ })
    clock.advance(2000)
    expect(suspicion.confirm('b')).toBe(true)
    expect(fired).toBe(0)
    expect(suspicion.deadlineMs).toBe(clock.monotonicMs())
    clock.advance(0)
    expect(fired).toBe(1)
    expect(suspicion.state).toBe('fired')
    expect(suspicion.confirm('c')).toBe(false)
    clock.advance(10_000)
    expect(fired).toBe(1)
  })

  it('reports its deadline as confirmations arrive', () => {
    const clock = new ManualClock()
    const start = clock.monotonicMs()
    const suspicion = new Suspicion({ clock, from: 'a', k: 2, minMs: 1000, maxMs: 6000, onTimeout: () => {} })
    expect(suspicion.deadlineMs - start).toBe(6000)
    clock.advance(500)
    suspicion.confirm('b')
    expect(suspicion.deadlineMs - start).toBe(2845)
  })

  it('cancel stops it for good and leaves no timer behind', () => {
    const clock = new ManualClock()
    let fired = 0
    const suspicion = new Suspicion({ clock, from: 'a', k: 2, minMs: 1000, maxMs: 6000, onTimeout: () => fired++ })
    clock.advance(500)
    suspicion.confirm('b')
    suspicion.cancel()
    suspicion.cancel()
    expect(clock.pending).toBe(0)
    expect(suspicion.confirm('c')).toBe(false)
    clock.advance(10_000)
    expect(fired).toBe(0)
    expect(suspicion.state).toBe('cancelled')
  })

  it('cancel after firing changes nothing', () => {
    const { suspicion, fired } = run(2, [])
    suspicion.cancel()
    expect(suspicion.state).toBe('fired')
    expect(fired).toHaveLength(1)
  })
})
