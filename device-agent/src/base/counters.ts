/** Named monotonically increasing counters, reported in stats lines and read by tests. */
export class Counters<K extends string = string> {
  readonly #values = new Map<K, number>()

  add(name: K, by = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + by)
  }

  get(name: K): number {
    return this.#values.get(name) ?? 0
  }

  /** A plain object, keys sorted, for JSON logs. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }
}
