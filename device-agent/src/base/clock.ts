/**
 * Time as a dependency (STYLE.md §2). The agent may import only `hub/src/contract` from the hub
 * (DESIGN.md §6), so it declares the Clock it takes itself; the shape is the hub's
 * (`hub/src/base/clock.ts`), so tests pass the hub's ManualClock or systemClock unchanged.
 */
export interface TimerHandle {
  /** Lets the process exit while the timer is pending (like `Timeout.unref`). */
  unref(): void
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Monotonic milliseconds, for measuring durations. */
  monotonicMs(): number
  setTimeout(fn: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle | undefined): void
  setInterval(fn: () => void, periodMs: number): TimerHandle
  clearInterval(handle: TimerHandle | undefined): void
}
