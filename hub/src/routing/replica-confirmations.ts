import type { Clock, TimerHandle } from '../base/clock.js'

/** `need`: the replicas not heard from yet (one, with the default replication factor: an array beats a set). */
interface Waiter { need: string[], deadlineMs: number, resolve: (confirmed: boolean) => void }

/** Confirmations kept for publishes nobody waits for yet (their owner's reply is still on its way). */
const EARLY_LIMIT = 20_000
/** Longest wait between two passes over the waiters' deadlines, ms. */
const SWEEP_MS = 50

/**
 * The ingress hub's side of chain replication's tail reply (`ReplicaConfirmMessage`): a forwarded
 * QoS ≥ 1 publish is acknowledged once its owner has answered and each replica the owner named
 * (`confirmBy`) has confirmed its copy. The replica's confirmation and the owner's reply travel on
 * different links, so a confirmation may arrive first; it is kept (bounded) until the wait starts.
 */
export class ReplicaConfirmations {
  readonly #waiting = new Map<string, Waiter>()
  /** id → replicas that confirmed before anyone waited (insertion order = age). */
  readonly #early = new Map<string, string[]>()
  #sweepTimer: TimerHandle | undefined

  constructor(private readonly clock: Clock) {}

  /** Resolves true once every hub of `replicas` has confirmed `id`, false after `timeoutMs`. */
  wait(id: string, replicas: readonly string[], timeoutMs: number): Promise<boolean> {
    const early = this.#early.get(id)
    let need = [...replicas]
    if (early) {
      this.#early.delete(id)
      need = need.filter((hub) => !early.includes(hub))
      if (need.length === 0) return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      this.#waiting.set(id, { need, deadlineMs: this.clock.monotonicMs() + timeoutMs, resolve })
      if (this.#sweepTimer === undefined) this.#arm(Math.min(SWEEP_MS, timeoutMs))
    })
  }

  /** `from` has committed its copies of these publishes. */
  confirmed(from: string, ids: readonly string[]): void {
    for (const id of ids) {
      const waiter = this.#waiting.get(id)
      if (waiter) {
        const i = waiter.need.indexOf(from)
        if (i >= 0) waiter.need.splice(i, 1)
        if (waiter.need.length === 0) {
          this.#waiting.delete(id)
          waiter.resolve(true)
        }
        continue
      }
      const early = this.#early.get(id)
      if (early) { if (!early.includes(from)) early.push(from); continue }
      if (this.#early.size >= EARLY_LIMIT) {
        // Dropped, the publish's wait times out and the forward is retried: slower, not wrong.
        const oldest = this.#early.keys().next()
        if (oldest.done !== true) this.#early.delete(oldest.value)
      }
      this.#early.set(id, [from])
    }
  }

  /** Ends every wait (false): the router stops. */
  close(): void {
    this.clock.clearTimeout(this.#sweepTimer)
    this.#sweepTimer = undefined
    for (const waiter of this.#waiting.values()) waiter.resolve(false)
    this.#waiting.clear()
    this.#early.clear()
  }

  get size(): { waiting: number, early: number } { return { waiting: this.#waiting.size, early: this.#early.size } }

  #arm(inMs: number): void {
    this.#sweepTimer = this.clock.setTimeout(() => this.#sweep(), Math.max(1, inMs))
    this.#sweepTimer.unref()
  }

  #sweep(): void {
    this.#sweepTimer = undefined
    const now = this.clock.monotonicMs()
    let next = Infinity
    for (const [id, waiter] of this.#waiting) {
      if (waiter.deadlineMs <= now) {
        this.#waiting.delete(id)
        waiter.resolve(false)
      } else next = Math.min(next, waiter.deadlineMs)
    }
    if (next !== Infinity) this.#arm(Math.min(SWEEP_MS, next - now))
  }
}
