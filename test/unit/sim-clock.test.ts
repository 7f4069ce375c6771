import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { Clock, TimerHandle } from '../../hub/src/base/clock.js'
import { seededRng } from '../../hub/src/base/rng.js'
import { SimClock } from '../../hub/src/membership/sim/sim-clock.js'

const SEED = 99

/**
 * Drives a clock through a seeded random schedule (timeouts, intervals, clears, timers set from
 * inside timers) and returns what fired, when: SimClock must fire exactly as ManualClock does.
 */
function trace(clock: Clock & { advance(ms: number): void }, seed: number): string[] {
  const rng = seededRng(seed)
  const fired: string[] = []
  const handles: TimerHandle[] = []
  let name = 0
  const schedule = (depth: number): void => {
    const id = name++
    const delayMs = rng.int(4) === 0 ? 0 : rng.int(50)
    if (rng.int(8) === 0) {
      let runs = 0
      const h = clock.setInterval(() => {
        fired.push(`i${id}@${clock.now()}`)
        if (++runs === 3) clock.clearInterval(h)
      }, delayMs)
      handles.push(h)
      return
    }
    handles.push(clock.setTimeout(() => {
      fired.push(`t${id}@${clock.now()}`)
      if (depth < 3 && rng.int(2) === 0) schedule(depth + 1)
    }, delayMs))
  }
  for (let step = 0; step < 200; step++) {
    schedule(0)
    if (rng.int(5) === 0) clock.clearTimeout(handles[rng.int(handles.length)])
    if (rng.int(3) === 0) clock.advance(rng.int(30))
  }
  clock.advance(1_000)
  return fired
}

describe(`SimClock (seed ${SEED})`, () => {
  it.each([SEED, SEED + 1, SEED + 2])('fires what ManualClock fires, in the same order, at the same times (schedule %i)', (seed) => {
    const expected = trace(new ManualClock(0), seed)
    expect(expected.length).toBeGreaterThan(100)
    expect(trace(new SimClock(0), seed)).toEqual(expected)
  })

  it('reports the next due time and the pending count, ignoring cleared timers', () => {
    const clock = new SimClock(0)
    const a = clock.setTimeout(() => {}, 10)
    clock.setTimeout(() => {}, 20)
    expect(clock.nextDueMs()).toBe(10)
    clock.clearTimeout(a)
    expect(clock.pending).toBe(1)
    expect(clock.nextDueMs()).toBe(20)
    clock.advanceTo(20)
    expect(clock.nextDueMs()).toBeUndefined()
    expect(clock.now()).toBe(20)
  })
})
