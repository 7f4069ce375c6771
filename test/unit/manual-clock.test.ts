import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { Clock, TimerHandle } from '../../hub/src/base/clock.js'
import { seededRng } from '../../hub/src/base/rng.js'

const SEED = 99

/**
 * Drives a clock through a seeded random schedule (timeouts, intervals, clears, timers set from
 * inside timers) and returns what fired, when: ManualClock (a heap) must fire exactly as the simple scan-based reference does.
 */
function trace(clock: Clock & { advance(ms: number): void }, seed: number): string[] {
  const rng = seededRng(seed)
  const fired: string[] = []
  const handles: TimerHandle[] = []
  let name = 0
  const schedule = (depth: number): void => {
    const id = name++
    const delayMs = rng.int(4) === 0 ? 0 : rng.int(50)
    if (rng.int(8) === 0) {
      let runs = 0
      const h = clock.setInterval(() => {
        fired.push(`i${id}@${clock.now()}`)
        if (++runs === 3) clock.clearInterval(h)
      }, delayMs)
      handles.push(h)
      return
    }
    handles.push(clock.setTimeout(() => {
      fired.push(`t${id}@${clock.now()}`)
      if (depth < 3 && rng.int(2) === 0) schedule(depth + 1)
    }, delayMs))
  }
  for (let step = 0; step < 200; step++) {
    schedule(0)
    if (rng.int(5) === 0) clock.clearTimeout(handles[rng.int(handles.length)])
    if (rng.int(3) === 0) clock.advance(rng.int(30))
  }
  clock.advance(1_000)
  return fired
}

describe(`ManualClock against a reference (seed ${SEED})`, () => {
  it.each([SEED, SEED + 1, SEED + 2])('fires what the reference fires, in the same order, at the same times (schedule %i)', (seed) => {
    const expected = trace(new ReferenceClock(0), seed)
    expect(expected.length).toBeGreaterThan(100)
    expect(trace(new ManualClock(0), seed)).toEqual(expected)
  })

  it('reports the next due time and the pending count, ignoring cleared timers', () => {
    const clock = new ManualClock(0)
    const a = clock.setTimeout(() => {}, 10)
    clock.setTimeout(() => {}, 20)
    expect(clock.nextDueMs()).toBe(10)
    clock.clearTimeout(a)
    expect(clock.pending).toBe(1)
    expect(clock.nextDueMs()).toBe(20)
    clock.advanceTo(20)
    expect(clock.nextDueMs()).toBeUndefined()
    expect(clock.now()).toBe(20)
  })
})

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
/** The previous scan-based ManualClock, kept as the reference the heap must match. */
class ReferenceClock implements Clock {
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
    if (handle instanceof ReferenceTimerHandle) this.#timers.delete(handle.id)
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
    return new ReferenceTimerHandle(id)
  }
}

class ReferenceTimerHandle implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): void { /* virtual timers never hold a process open */ }
}
