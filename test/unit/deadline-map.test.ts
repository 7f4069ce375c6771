import { describe, expect, it } from 'vitest'
import { DeadlineMap } from '../../hub/src/base/deadline-map.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'

describe('DeadlineMap (one timer for many deadlines)', () => {
  it('expires each entry at its deadline (within one 50 ms pass), and never one taken or cleared', () => {
    const clock = new ManualClock()
    const expired: string[] = []
    const map = new DeadlineMap<string, number>(clock, (key) => expired.push(key))
    map.set('short', 1, 30)
    map.set('long', 2, 500)
    map.set('taken', 3, 30)
    expect(map.take('taken')).toBe(3)
    clock.advance(29)
    expect(expired).toEqual([])
    clock.advance(1)
    expect(expired).toEqual(['short'])
    expect(map.get('long')).toBe(2)
    clock.advance(469)
    expect(expired).toEqual(['short'])
    clock.advance(50)
    expect(expired).toEqual(['short', 'long'])
    expect(map.size).toBe(0)
    map.set('cleared', 4, 10)
    expect(map.clear()).toEqual([4])
    clock.advance(100)
    expect(expired).toEqual(['short', 'long'])
  })

  it('takes the entries that match, which then never expire', () => {
    const clock = new ManualClock()
    const expired: string[] = []
    const map = new DeadlineMap<string, number>(clock, (key) => expired.push(key))
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) map.set(k, v, 100)
    expect(map.takeWhere((v) => v % 2 === 1)).toEqual([1, 3])
    expect(map.size).toBe(1)
    clock.advance(100)
    expect(expired).toEqual(['b'])
  })
})
