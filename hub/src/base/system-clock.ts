import type { Clock, TimerHandle } from './clock.js'

/** The real clock. Only composition roots (main.ts, hub.ts factories) construct it. */
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

export type { TimerHandle }
