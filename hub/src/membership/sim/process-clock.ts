import type { Clock, TimerHandle } from '../../base/clock.js'

/**
 * The clock of one simulated process, over the world's virtual clock: timers that fall due
 * while the process is paused (SIGSTOP) run when it resumes, late, as they would in a stopped
 * process.
 */
export class ProcessClock implements Clock {
  #paused = false
  #late: Array<() => void> = []
  constructor(private readonly world: Clock) {}
  now(): number { return this.world.now() }
  monotonicMs(): number { return this.world.monotonicMs() }
  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.world.setTimeout(() => (this.#paused ? this.#late.push(fn) : fn()), delayMs)
  }
  clearTimeout(handle: TimerHandle | undefined): void { this.world.clearTimeout(handle) }
  setInterval(fn: () => void, periodMs: number): TimerHandle {
    return this.world.setInterval(() => (this.#paused ? this.#late.push(fn) : fn()), periodMs)
  }
  clearInterval(handle: TimerHandle | undefined): void { this.world.clearInterval(handle) }
  pause(): void { this.#paused = true }
  resume(): void {
    this.#paused = false
    const late = this.#late
    this.#late = []
    for (const fn of late) fn()
  }
}
