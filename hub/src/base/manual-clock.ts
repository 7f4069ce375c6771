import type { Clock, TimerHandle } from './clock.js'

interface Timer {
  id: number
  dueMs: number
  periodMs: number | undefined
  fn: () => void
}

/**
 * A virtual clock for deterministic tests: time moves only when `advance` is called, and due
 * timers fire in order of due time (ties in creation order).
 */
export class ManualClock implements Clock {
  #nowMs: number
  #nextId = 1
  #timers = new Map<number, Timer>()

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs
  }

  now(): number { return this.#nowMs }
  monotonicMs(): number { return this.#nowMs }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.#add(fn, delayMs, undefined)
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    return this.#add(fn, periodMs, Math.max(1, periodMs))
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle instanceof ManualTimerHandle) this.#timers.delete(handle.id)
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle)
  }

  /** Number of timers still pending. */
  get pending(): number { return this.#timers.size }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#nowMs + ms
    for (;;) {
      const next = this.#nextDue()
      if (!next || next.dueMs > target) break
      this.#nowMs = next.dueMs
      if (next.periodMs === undefined) this.#timers.delete(next.id)
      else next.dueMs += next.periodMs
      next.fn()
    }
    this.#nowMs = target
  }

  #nextDue(): Timer | undefined {
    let best: Timer | undefined
    for (const t of this.#timers.values()) {
      if (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t
    }
    return best
  }

  #add(fn: () => void, delayMs: number, periodMs: number | undefined): TimerHandle {
    const id = this.#nextId++
    this.#timers.set(id, { id, dueMs: this.#nowMs + Math.max(0, delayMs), periodMs, fn })
    return new ManualTimerHandle(id)
  }
}

class ManualTimerHandle implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): void { /* virtual timers never hold a process open */ }
}
