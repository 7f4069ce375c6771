import type { Clock, TimerHandle } from './clock.js'

/** A gap between looks longer than this is time the process did not run (`pausedMs`). */
const PAUSE_MIN_MS = 500

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
  /** Time the process did not run in gaps past PAUSE_MIN_MS, up to the last look. */
  #pausedMs = 0

  /** How often the ticker looks, ms. */
  readonly #probeMs: number

  constructor(private readonly deps: { clock: Clock, stallMs: number, probeMs?: number, onStall(gapMs: number): void }) {
    this.#last = deps.clock.monotonicMs()
    this.#probeMs = deps.probeMs ?? Math.max(10, Math.min(100, Math.floor(deps.stallMs / 4)))
  }

  start(): void {
    this.#last = this.deps.clock.monotonicMs()
    this.#timer = this.deps.clock.setInterval(() => this.check(), this.#probeMs)
    this.#timer.unref()
  }

  /**
   * Monotonic time this process did not run, ms, counting every gap between looks longer than
   * PAUSE_MIN_MS (beyond the probe interval), the one still open included; it only grows. A
   * deadline measured in monotonic time less this (`RouterDeps`: a publish's forward deadline) does
   * not run out while the process is stopped.
   */
  get pausedMs(): number {
    const gap = this.deps.clock.monotonicMs() - this.#last
    return this.#pausedMs + (gap > PAUSE_MIN_MS ? gap - this.#probeMs : 0)
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
    if (gap > PAUSE_MIN_MS) this.#pausedMs += gap - this.#probeMs
    if (gap > this.deps.stallMs) this.deps.onStall(gap)
  }
}
