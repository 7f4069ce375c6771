/**
 * Lifeguard's Local Health Multiplier (LHA-Probe; memberlist `awareness.go`): a saturating
 * counter of evidence that *this* hub is the slow one (CPU starved, GC pause, lossy NIC).
 * While it is raised the hub stretches its own probe interval and probe timeout, so a sick
 * prober accuses others less eagerly instead of flooding the ring with false suspicions.
 *
 * What moves it (memberlist `probeNode` and `refute`, which the protocol layer will call):
 *
 * | event                                                     | delta                  |
 * |-----------------------------------------------------------|------------------------|
 * | probe answered (direct or indirect ack)                   | −1 (`PROBE_SUCCEEDED`) |
 * | probe failed, per indirect prober whose nack never came   | +1 each (`NACK_MISSED`)|
 * | probe failed and no indirect prober could send a nack     | +1 (`PROBE_FAILED`)    |
 * | we had to refute a suspect/dead message about ourselves   | +1 (`REFUTED`)         |
 *
 * A missed nack is the telling case: the indirect prober was asked to answer either way, so its
 * silence says our own messages (or our processing of replies) are late, not that the target
 * is dead. A failed probe whose nacks all arrived leaves the score alone: the target is the
 * problem.
 */
export const AWARENESS_DELTA = {
  PROBE_SUCCEEDED: -1,
  NACK_MISSED: 1,
  PROBE_FAILED: 1,
  REFUTED: 1,
} as const

export class Awareness {
  readonly #max: number
  #score = 0

  /**
   * @param maxMultiplier the largest factor timeouts are stretched by (memberlist
   *   `AwarenessMaxMultiplier`, default 8). The score ranges over `0 … maxMultiplier − 1`, as in
   *   memberlist, so `scaleTimeout` multiplies by at most `maxMultiplier`.
   */
  constructor(maxMultiplier: number) {
    if (!Number.isInteger(maxMultiplier) || maxMultiplier < 1) {
      throw new RangeError(`awareness maxMultiplier must be an integer ≥ 1, got ${maxMultiplier}`)
    }
    this.#max = maxMultiplier
  }

  /** 0 is healthy; `maxMultiplier − 1` the least healthy. */
  get score(): number { return this.#score }

  /** Adds `delta`, clamped to `0 … maxMultiplier − 1`. Returns the new score. */
  applyDelta(delta: number): number {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + Math.trunc(delta)))
    return this.#score
  }

  /** `timeoutMs × (score + 1)`: the probe interval and probe timeout this hub should use now. */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.#score + 1)
  }
}
