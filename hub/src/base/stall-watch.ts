import type { Clock, TimerHandle } from './clock.js'

/**
 * Notices that this process did not run for a while: a SIGSTOP, a VM paused or migrated, a
 * swap storm, a GC pause. A ticker notes the monotonic time every `probeMs`; `check()` (called
 * by the ticker and on demand, e.g. before numbering a message) reports a gap longer than
 * `stallMs` once. Whoever looks first after the stall sees it: after SIGCONT the event loop may
 * run socket callbacks before expired timers, or the other way round.
 */
export class StallWatch {
  #last: number
  #timer: TimerHandle | undefined

  constructor(private readonly deps: { clock: Clock, stallMs: number, probeMs?: number, onStall(gapMs: number): void }) {
    this.#last = deps.clock.monotonicMs()
  }

  start(): void {
    const probeMs = this.deps.probeMs ?? Math.max(10, Math.min(100, Math.floor(this.deps.stallMs / 4)))
    this.#last = this.deps.clock.monotonicMs()
    this.#timer = this.deps.clock.setInterval(() => this.check(), probeMs)
    this.#timer.unref()
  }

  stop(): void {
    this.deps.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Reports a stall since the last look (once), and notes now. */
  check(): void {
    const now = this.deps.clock.monotonicMs()
    const gap = now - this.#last
    this.#last = now
    if (gap > this.deps.stallMs) this.deps.onStall(gap)
  }
}
