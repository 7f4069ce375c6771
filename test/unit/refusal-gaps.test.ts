import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { RefusalGaps } from '../../hub/src/routing/refusal-gaps.js'

const run = (n: number): { source: string, n: number } => ({ source: 'h2:run', n })

describe('RefusalGaps (a run\'s later publishes are refused while an earlier refused one has not come back)', () => {
  it('refuses what comes after a refused publish of the same run and key, and nothing else', () => {
    const gaps = new RefusalGaps({ clock: new ManualClock(), gapMs: 1_000 })
    expect(gaps.size).toBe(0)
    gaps.refused('k', run(461))
    expect(gaps.earlierRefused('k', run(465)), 'a later publish of the run').toBe(true)
    expect(gaps.earlierRefused('k', run(460)), 'an earlier one').toBe(false)
    expect(gaps.earlierRefused('k', { source: 'h1:run', n: 900 }), 'another run').toBe(false)
    expect(gaps.earlierRefused('other', run(465)), 'another key').toBe(false)
    expect(gaps.earlierRefused('k', run(461)), 'the refused one itself arrives again').toBe(false)
    expect(gaps.earlierRefused('k', run(465)), '461 is back').toBe(false)
    gaps.refused('k', run(461)) // refused again on that retry
    gaps.refused('k', run(462))
    gaps.through('k', run(461)) // its place kept this time
    expect(gaps.earlierRefused('k', run(465)), '462 has not come back').toBe(true)
    gaps.through('k', run(462))
    expect(gaps.earlierRefused('k', run(465))).toBe(false)
    expect(gaps.size, 'nothing left').toBe(0)
  })

  it('stops counting the refusals of publishes its ingress says it has finished (answered by another hub, or given up)', () => {
    const gaps = new RefusalGaps({ clock: new ManualClock(), gapMs: 1_000 })
    gaps.refused('k', run(461))
    gaps.refused('k', run(462))
    gaps.refused('k', { source: 'h1:run', n: 5 })
    expect(gaps.finishedBefore('k', 'h2:run', 462), '461 is done; 462 is not').toBe(1)
    expect(gaps.earlierRefused('k', run(465)), '462 has not come back').toBe(true)
    gaps.finishedBefore('other', 'h2:run', 1_000) // another key: nothing
    gaps.finishedBefore('k', 'h2:run', 465)
    expect(gaps.earlierRefused('k', run(465)), 'both done').toBe(false)
    expect(gaps.earlierRefused('k', { source: 'h1:run', n: 6 }), 'another run\'s refusal still counts').toBe(true)
  })

  it('lets a refusal count for gapMs after its last refusal (an ingress that gave up holds nothing back for good)', () => {
    const clock = new ManualClock()
    const gaps = new RefusalGaps({ clock, gapMs: 1_000 })
    gaps.refused('k', run(1))
    clock.advance(600)
    gaps.refused('k', run(1)) // refused again on its retry: counts 1 s from now
    clock.advance(600)
    expect(gaps.earlierRefused('k', run(2))).toBe(true)
    clock.advance(400)
    expect(gaps.earlierRefused('k', run(2))).toBe(false)
    expect(gaps.size).toBe(0)
    // Refusals never asked about again (a misrouted publish of a key this hub never owns) stop
    // counting too: the usual path checks nothing again once they have ended.
    gaps.refused('k2', run(7))
    gaps.refused('k3', run(8))
    expect(gaps.size).toBe(2)
    clock.advance(1_000)
    expect(gaps.size).toBe(0)
  })

  it('sweeps keys refused once and never asked about again', () => {
    const clock = new ManualClock()
    const gaps = new RefusalGaps({ clock, gapMs: 10 })
    for (let i = 0; i < 1_023; i++) gaps.refused(`k${i}`, run(i))
    expect(gaps.size).toBe(1_023)
    clock.advance(10)
    gaps.refused('last', run(0)) // the 1024th refusal sweeps what has ended
    expect(gaps.size).toBe(1)
  })
})
