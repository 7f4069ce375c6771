import type { Clock, TimerHandle } from './clock.js'

/** Longest wait between two passes over the deadlines, ms. */
const SWEEP_MS = 50

/**
 * A map whose entries expire: an entry still there at its deadline is removed and handed to
 * `onExpired`. One timer serves every entry, passing over them at most every 50 ms while any is
 * left (a timer per entry was a good part of the inter-hub link's cost); so an entry expires up to
 * 50 ms late. Used for requests awaiting replies and publishes awaiting their replicas.
 *
 * An entry found past its deadline expires at the next pass, 1 ms later, if still there: between
 * the two the event loop reads its sockets. After a stall (a long GC, a paused process, a starved
 * VM) every timer is due at once, and timers run before the loop reads what arrived meanwhile: a
 * reply sitting in the socket would otherwise lose to its own timeout (the paused hub of the 15 s
 * pause scenario failed the publishes it had forwarded before the pause, and closed their clients).
 */
export class DeadlineMap<K, V> {
  readonly #entries = new Map<K, { value: V, deadlineMs: number, due?: true }>()
  #timer: TimerHandle | undefined

  constructor(private readonly clock: Clock, private readonly onExpired: (key: K, value: V) => void) {}

  set(key: K, value: V, timeoutMs: number): void {
    this.#entries.set(key, { value, deadlineMs: this.clock.monotonicMs() + timeoutMs })
    if (this.#timer === undefined) this.#arm(Math.min(SWEEP_MS, timeoutMs))
  }

  get(key: K): V | undefined { return this.#entries.get(key)?.value }

  /** Removes the entry and returns its value (undefined: none, or it expired). */
  take(key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (entry) this.#entries.delete(key)
    return entry?.value
  }

  /** Removes every entry whose value matches (none expires) and returns their values. */
  takeWhere(match: (value: V) => boolean): V[] {
    const taken: V[] = []
    for (const [key, entry] of this.#entries) {
      if (!match(entry.value)) continue
      this.#entries.delete(key)
      taken.push(entry.value)
    }
    return taken
  }

  get size(): number { return this.#entries.size }

  /** Removes every entry (none expires) and returns their values. */
  clear(): V[] {
    this.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    const values = [...this.#entries.values()].map((e) => e.value)
    this.#entries.clear()
    return values
  }

  #arm(inMs: number): void {
    this.#timer = this.clock.setTimeout(() => this.#sweep(), Math.max(1, inMs))
    this.#timer.unref()
  }

  #sweep(): void {
    this.#timer = undefined
    const now = this.clock.monotonicMs()
    let next = Infinity
    for (const [key, entry] of this.#entries) {
      if (entry.deadlineMs > now) {
        next = Math.min(next, entry.deadlineMs)
      } else if (entry.due) {
        this.#entries.delete(key)
        this.onExpired(key, entry.value)
      } else {
        entry.due = true // expires at the next pass, once the loop has read its sockets
        next = now + 1
      }
    }
    if (next !== Infinity && this.#timer === undefined) this.#arm(Math.min(SWEEP_MS, next - now))
  }
}
