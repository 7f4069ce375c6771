import type { Clock, TimerHandle } from '../base/clock.js'

/** A message of a key refused for now, or numbered here with failed copies: its retry goes first. */
interface Hold {
  /** The publish id its ingress retries it with. */
  readonly id: string
  /** Its ingress hub (this one for a local publish). */
  readonly via: string
  /** When its first attempt reached this hub, in this hub's order of arrivals. */
  readonly arrival: number
  readonly untilMs: number
}

/**
 * Keys whose next numbers are kept for the retries of messages this hub, their owner, could not
 * finish (invariant 2): numbered with failed copies (so never acknowledged), or refused while it
 * took the key over (a hub of the key's replica set did not answer). Their ingress sends them
 * again with the same id. Later messages of the key may already be on their way (pipelined by
 * the ingress, or from other clients); numbered first, they would come ahead of the retries.
 * Seen in the kill-and-restart fault test, when the survivors took every key over again as the
 * restarted hub came back: 169 numbered in the new epoch, then 168 after it.
 *
 * So while a key holds such messages, their retries are numbered first, in the order their first
 * attempts arrived; the key's other messages wait (`turn`), in arrival order too. Refusing them
 * instead was not enough: a refused message's retry came after later messages already on their
 * way. A hold ends when its message is numbered (again) or copied, when its ingress hub is dead,
 * when the key leaves this hub, or after `holdMs` (its ingress has given up by then).
 */
export class RetryHolds {
  /** Per key, in arrival order. */
  readonly #byKey = new Map<string, Hold[]>()
  /** Messages waiting for a key's holds to change, and the timer of its first hold's end. */
  readonly #waiting = new Map<string, { wake: Array<() => void>, timer: TimerHandle | undefined }>()

  constructor(private readonly deps: { clock: Clock, holdMs: number }) {}

  get size(): number { return this.#byKey.size }

  /**
   * `id`, a message of `key` that arrived `arrival`-th, will be retried by `via`: it goes first.
   * False when it was held already.
   */
  hold(key: string, id: string, via: string, arrival: number): boolean {
    const holds = this.#byKey.get(key) ?? []
    if (holds.some((h) => h.id === id)) return false
    const hold: Hold = { id, via, arrival, untilMs: this.deps.clock.monotonicMs() + this.deps.holdMs }
    const after = holds.findIndex((h) => h.arrival > arrival)
    holds.splice(after < 0 ? holds.length : after, 0, hold)
    this.#byKey.set(key, holds)
    return true
  }

  /**
   * The id of the message `key` waits for before it numbers the message `id` (undefined: none,
   * or `id` is the one it waits for).
   */
  waitingFor(key: string, id: string | undefined): string | undefined {
    const holds = this.#byKey.get(key)
    if (!holds) return undefined
    const now = this.deps.clock.monotonicMs()
    while (holds.length > 0 && (holds[0] as Hold).untilMs <= now) holds.shift()
    const first = holds[0]
    if (!first) {
      this.#byKey.delete(key)
      return undefined
    }
    return first.id === id ? undefined : first.id
  }

  /**
   * Undefined when the message `id` of `key` may be numbered now; otherwise a promise that
   * resolves, in arrival order, once the key's holds have changed (a retry numbered, a hold
   * ended): the caller then checks everything again, ownership included.
   */
  turn(key: string, id: string | undefined): Promise<void> | undefined {
    if (this.waitingFor(key, id) === undefined) return undefined
    let waiting = this.#waiting.get(key)
    if (!waiting) this.#waiting.set(key, waiting = { wake: [], timer: undefined })
    const w = waiting
    if (w.timer === undefined) {
      const first = (this.#byKey.get(key) as Hold[])[0] as Hold
      w.timer = this.deps.clock.setTimeout(() => { w.timer = undefined; this.#wake(key) }, Math.max(1, first.untilMs - this.deps.clock.monotonicMs()))
      w.timer.unref()
    }
    return new Promise((resolve) => { w.wake.push(resolve) })
  }

  /** `id` is through (numbered again, or copied after all). */
  released(key: string, id: string): void {
    const holds = this.#byKey.get(key)
    if (holds?.some((h) => h.id === id)) this.#keep(key, holds.filter((h) => h.id !== id))
  }

  /** Drops the holds of keys this hub no longer owns (their retries go to the new owner). */
  keepOnly(owned: (key: string) => boolean): void {
    for (const key of [...this.#byKey.keys()]) if (!owned(key)) this.#keep(key, [])
  }

  /** `hub` is dead: nothing it held will be retried. */
  hubGone(hub: string): void {
    for (const [key, holds] of [...this.#byKey]) this.#keep(key, holds.filter((h) => h.via !== hub))
  }

  #keep(key: string, holds: Hold[]): void {
    if (holds.length > 0) this.#byKey.set(key, holds)
    else this.#byKey.delete(key)
    this.#wake(key)
  }

  /** Everything waiting on `key` checks again, in arrival order. */
  #wake(key: string): void {
    const waiting = this.#waiting.get(key)
    if (!waiting) return
    this.#waiting.delete(key)
    this.deps.clock.clearTimeout(waiting.timer)
    for (const wake of waiting.wake) wake()
  }
}
