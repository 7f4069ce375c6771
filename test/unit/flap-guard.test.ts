import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { FlapGuard } from '../../hub/src/mqtt/flap-guard.js'

describe('FlapGuard (flapping client ids)', () => {
  it('bans the connect that goes over the limit within the window, for the ban time, then starts afresh', () => {
    const clock = new ManualClock()
    const guard = new FlapGuard({ maxConnects: 3, windowMs: 10_000, banMs: 5_000, clock })
    for (let i = 0; i < 3; i++) expect(guard.connecting('d1')).toBeUndefined()
    expect(guard.connecting('d1')).toEqual({ remainingMs: 5_000, banned: true })
    expect(guard.connecting('d2')).toBeUndefined()
    clock.advance(4_000)
    expect(guard.connecting('d1')).toEqual({ remainingMs: 1_000, banned: false })
    expect(guard.bannedCount()).toBe(1)
    clock.advance(1_000)
    for (let i = 0; i < 3; i++) expect(guard.connecting('d1')).toBeUndefined()
    expect(guard.connecting('d1')?.banned).toBe(true)
  })

  it('lets a client id connect as often as it likes when the connects are spread over windows', () => {
    const clock = new ManualClock()
    const guard = new FlapGuard({ maxConnects: 3, windowMs: 10_000, banMs: 5_000, clock })
    for (let i = 0; i < 30; i++) {
      expect(guard.connecting('steady')).toBeUndefined()
      clock.advance(3_400) // three per window at most
    }
  })

  it('never judges the empty client id (the hub assigns one), and does nothing when off', () => {
    const clock = new ManualClock()
    const on = new FlapGuard({ maxConnects: 1, windowMs: 10_000, banMs: 5_000, clock })
    for (let i = 0; i < 5; i++) expect(on.connecting('')).toBeUndefined()
    const off = new FlapGuard({ maxConnects: 0, windowMs: 10_000, banMs: 5_000, clock })
    for (let i = 0; i < 5; i++) expect(off.connecting('d1')).toBeUndefined()
    expect(off.trackedCount).toBe(0)
  })

  it('tracks a bounded number of client ids, forgetting the least recently seen first', () => {
    const clock = new ManualClock()
    const guard = new FlapGuard({ maxConnects: 2, windowMs: 10_000, banMs: 5_000, clock, maxTracked: 100 })
    guard.connecting('old')
    guard.connecting('kept')
    for (let i = 0; i < 98; i++) guard.connecting(`fresh-${i}`)
    guard.connecting('kept') // seen again: now the most recent
    guard.connecting('one-more') // evicts 'old'
    expect(guard.trackedCount).toBe(100)
    // 'kept' still counts its two connects; 'old' was forgotten and starts again at one.
    expect(guard.connecting('kept')?.banned).toBe(true)
    expect(guard.connecting('old')).toBeUndefined()
    expect(guard.connecting('old')).toBeUndefined()
  })
})
