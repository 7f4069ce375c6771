/**
 * A virtualized list: only the rows in view (plus a few) exist in the DOM, absolutely placed in a
 * spacer as tall as all rows, so 1k devices or 10k topics scroll as fast as 30 rows.
 */

/** Rows kept beyond the visible ones on each side, so fast scrolling shows no gaps. */
const OVERSCAN_ROWS = 8

export class VirtualList<T> {
  readonly #spacer: HTMLDivElement
  #items: readonly T[] = []
  #frame = 0

  constructor(
    readonly container: HTMLElement,
    private readonly rowHeight: number,
    private readonly renderRow: (item: T, index: number) => HTMLElement,
  ) {
    container.classList.add('vlist')
    this.#spacer = document.createElement('div')
    this.#spacer.className = 'vlist-spacer'
    container.replaceChildren(this.#spacer)
    container.addEventListener('scroll', () => {
      if (this.#frame) return
      this.#frame = requestAnimationFrame(() => { this.#frame = 0; this.render() })
    })
  }

  get items(): readonly T[] { return this.#items }

  setItems(items: readonly T[]): void {
    this.#items = items
    this.render()
  }

  /** Draws the rows now in view. */
  render(): void {
    const n = this.#items.length
    this.#spacer.style.height = `${n * this.rowHeight}px`
    const height = this.container.clientHeight || 600
    const first = Math.max(0, Math.floor(this.container.scrollTop / this.rowHeight) - OVERSCAN_ROWS)
    const last = Math.min(n, Math.ceil((this.container.scrollTop + height) / this.rowHeight) + OVERSCAN_ROWS)
    const rows: HTMLElement[] = []
    for (let i = first; i < last; i++) {
      const row = this.renderRow(this.#items[i] as T, i)
      row.classList.add('vlist-row')
      row.style.top = `${i * this.rowHeight}px`
      row.style.height = `${this.rowHeight}px`
      rows.push(row)
    }
    this.#spacer.replaceChildren(...rows)
  }

  /** Scrolls so row `index` is visible. */
  reveal(index: number): void {
    const top = index * this.rowHeight
    if (top < this.container.scrollTop || top + this.rowHeight > this.container.scrollTop + this.container.clientHeight) {
      this.container.scrollTop = Math.max(0, top - this.container.clientHeight / 2)
    }
    this.render()
  }
}
