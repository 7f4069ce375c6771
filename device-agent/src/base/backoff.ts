import type { Rng } from './rng.js'

export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialMs: number
  /** Upper bound of the delay, in ms. */
  maxMs: number
}

/**
 * Exponential backoff with "equal jitter" (AWS architecture blog): half the capped exponential
 * delay is fixed, the other half random, so a fleet that lost its hub at the same instant spreads
 * its reconnects while no client retries sooner than half the nominal delay.
 * `attempt` counts failures since the last success, from 0.
 */
export function backoffDelayMs(attempt: number, opts: BackoffOptions, rng: Rng): number {
  const exp = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(exp / 2 + rng.next() * (exp / 2))
}
