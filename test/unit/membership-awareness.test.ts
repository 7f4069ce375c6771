import { describe, expect, it } from 'vitest'
import { AWARENESS_DELTA, Awareness } from '../../hub/src/membership/awareness.js'

describe('Awareness (Lifeguard Local Health Multiplier)', () => {
  it.each([
    // deltas applied in order, score after, 500 ms scaled
    [[], 0, 500],
    [[1], 1, 1000],
    [[1, 1, 1], 3, 2000],
    [[-1], 0, 500],
    [[3, -1], 2, 1500],
    [[100], 7, 4000],
    [[100, -2], 5, 3000],
    [[-100, 2], 2, 1500],
  ])('deltas %j → score %i, 500 ms → %i ms', (deltas, score, scaled) => {
    const awareness = new Awareness(8)
    for (const delta of deltas) awareness.applyDelta(delta)
    expect(awareness.score).toBe(score)
    expect(awareness.scaleTimeout(500)).toBe(scaled)
  })

  it('is capped at maxMultiplier − 1, so timeouts stretch at most maxMultiplier times', () => {
    const awareness = new Awareness(8)
    expect(awareness.applyDelta(50)).toBe(7)
    expect(awareness.scaleTimeout(1000)).toBe(8000)
  })

  it('with maxMultiplier 1 never scales', () => {
    const awareness = new Awareness(1)
    awareness.applyDelta(5)
    expect(awareness.scaleTimeout(200)).toBe(200)
  })

  it('documents the memberlist deltas', () => {
    expect(AWARENESS_DELTA).toEqual({ PROBE_SUCCEEDED: -1, NACK_MISSED: 1, PROBE_FAILED: 1, REFUTED: 1 })
    const awareness = new Awareness(8)
    // A failed probe whose 3 indirect probers all stayed silent, then a refutation, then two good probes.
    awareness.applyDelta(3 * AWARENESS_DELTA.NACK_MISSED)
    awareness.applyDelta(AWARENESS_DELTA.REFUTED)
    awareness.applyDelta(AWARENESS_DELTA.PROBE_SUCCEEDED)
    awareness.applyDelta(AWARENESS_DELTA.PROBE_SUCCEEDED)
    expect(awareness.score).toBe(2)
  })

  it.each([0, -1, 1.5, Number.NaN])('refuses maxMultiplier %s', (max) => {
    expect(() => new Awareness(max)).toThrow(RangeError)
  })
})
