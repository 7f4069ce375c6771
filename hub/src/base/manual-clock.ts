import type { Clock, TimerHandle } from './clock.js'

interface Timer {
  id: number
  dueMs: number
  periodMs: number | undefined
  fn: () => void
  cancelled: boolean
}

/** Firing order: earliest due time first, ties in creation order. */
function before(a: Timer, b: Timer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.id < b.id)
}

/**
 * A virtual clock for deterministic tests and the ring simulator: time moves only when
 * `advance`/`advanceTo` is called, and due timers fire in order of due time (ties in creation
 * order). Timers live on a binary heap: a simulated ring of 1000 members keeps ~10 000 pending,
 * so adding and firing cost O(log n); a cleared timer is only marked and drops out when it
 * reaches the top.
 */
export class ManualClock implements Clock {
  #nowMs: number
  /** `now()` − `monotonicMs()`: 0 until `jumpWallClock` moves the wall clock alone. */
  #wallOffsetMs = 0
  #nextId = 1
  readonly #heap: Timer[] = []
  readonly #live = new Map<number, Timer>()

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs
  }

  now(): number { return this.#nowMs + this.#wallOffsetMs }
  monotonicMs(): number { return this.#nowMs }

  /**
   * Moves the wall clock (`now()`) by `ms`, either way, and nothing else: as NTP or an operator
   * setting the time does. Monotonic time and timers stay where they are, so code that measures
   * durations on the monotonic clock sees no change.
   */
  jumpWallClock(ms: number): void { this.#wallOffsetMs += ms }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.#add(fn, delayMs, undefined)
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    return this.#add(fn, periodMs, Math.max(1, periodMs))
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!(handle instanceof ManualTimerHandle)) return
    const timer = this.#live.get(handle.id)
    if (!timer) return
    timer.cancelled = true
    this.#live.delete(handle.id)
  }

  clearInterval(handle: TimerHandle | undefined): void { this.clearTimeout(handle) }

  /** Timers still pending. */
  get pending(): number { return this.#live.size }

  /** Due time of the next pending timer, or undefined when none is. */
  nextDueMs(): number | undefined {
    this.#dropCancelled()
    return this.#heap[0]?.dueMs
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void { this.advanceTo(this.#nowMs + ms) }

  /** Moves time forward to `targetMs`, firing every timer due at or before it, in order. */
  advanceTo(targetMs: number): void {
    for (;;) {
      this.#dropCancelled()
      const next = this.#heap[0]
      if (!next || next.dueMs > targetMs) break
      this.#nowMs = Math.max(this.#nowMs, next.dueMs)
      this.#pop()
      if (next.periodMs === undefined) {
        this.#live.delete(next.id)
      } else {
        next.dueMs += next.periodMs
        this.#push(next)
      }
      next.fn()
    }
    this.#nowMs = Math.max(this.#nowMs, targetMs)
  }

  #add(fn: () => void, delayMs: number, periodMs: number | undefined): TimerHandle {
    const id = this.#nextId++
    const timer: Timer = { id, dueMs: this.#nowMs + Math.max(0, delayMs), periodMs, fn, cancelled: false }
    this.#live.set(id, timer)
    this.#push(timer)
    return new ManualTimerHandle(id)
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && (this.#heap[0] as Timer).cancelled) this.#pop()
  }

  #push(timer: Timer): void {
    const heap = this.#heap
    let i = heap.push(timer) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as Timer
      if (!before(timer, p)) break
      heap[i] = p
      i = parent
    }
    heap[i] = timer
  }

  #pop(): void {
    const heap = this.#heap
    const last = heap.pop() as Timer
    if (heap.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && before(heap[right] as Timer, heap[left] as Timer) ? right : left
      const c = heap[child] as Timer
      if (!before(c, last)) break
      heap[i] = c
      i = child
    }
    heap[i] = last
  }
}

class ManualTimerHandle implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): void { /* virtual timers never hold a process open */ }
}
