/**
 * Coalesces redraw requests: however many updates arrive (2k msg/s), a view redraws at most once
 * per animation frame and at most `maxHz` times a second, and not at all while hidden. This is
 * what keeps the UI responsive under load (issue 6: updates throttled to ≤ 4 Hz).
 */
export class RenderThrottle {
  #scheduled = false
  #lastMs = -Infinity
  #timer: ReturnType<typeof setTimeout> | undefined

  /** `render` runs when due; `visible` says whether its view is on screen. */
  constructor(private readonly render: () => void, private readonly maxHz = 4, private readonly visible: () => boolean = () => true) {}

  /** Asks for a redraw soon. */
  request(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    const wait = Math.max(0, this.#lastMs + 1000 / this.maxHz - performance.now())
    this.#timer = setTimeout(() => requestAnimationFrame(() => this.#run()), wait)
  }

  /** Redraws in the next frame regardless of the rate (a click must answer at once). */
  now(): void {
    clearTimeout(this.#timer)
    this.#scheduled = true
    requestAnimationFrame(() => this.#run())
  }

  #run(): void {
    if (!this.#scheduled) return
    this.#scheduled = false
    // A hidden view stays dirty: it is drawn when shown (views call now() on show).
    if (!this.visible()) return
    this.#lastMs = performance.now()
    this.render()
  }
}
