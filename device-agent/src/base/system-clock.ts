import type { Clock } from './clock.js'

/** The real clock. Only composition roots (the agent's and the simulator's main) build on it. */
/* eslint-disable no-restricted-globals, no-restricted-properties -- this is the one place that wraps them */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => { if (handle) clearTimeout(handle as NodeJS.Timeout) },
  setInterval: (fn, periodMs) => setInterval(fn, periodMs),
  clearInterval: (handle) => { if (handle) clearInterval(handle as NodeJS.Timeout) },
}
/* eslint-enable no-restricted-globals, no-restricted-properties */
