/**
 * Time as a dependency. Hub and agent code never touch `Date.now` or the timer globals directly
 * (ESLint enforces it); they take a `Clock`, so tests can use a virtual one.
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
