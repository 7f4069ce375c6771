/**
 * This hub's own subscription filters, counted: many clients may subscribe to one filter, and
 * the ring hears about a filter when its first subscriber arrives and its last one leaves.
 */
export class LocalInterest {
  readonly #counts = new Map<string, number>()

  /** Counts one more subscriber; true when the filter is new. */
  add(filter: string): boolean {
    const n = this.#counts.get(filter) ?? 0
    this.#counts.set(filter, n + 1)
    return n === 0
  }

  /** Counts one subscriber less; true when it was the filter's last. */
  remove(filter: string): boolean {
    const n = this.#counts.get(filter)
    if (n === undefined) return false
    if (n > 1) { this.#counts.set(filter, n - 1); return false }
    this.#counts.delete(filter)
    return true
  }

  filters(): string[] { return [...this.#counts.keys()] }
}
