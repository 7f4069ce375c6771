import type { Clock } from '../base/clock.js'
import { DeadlineMap } from '../base/deadline-map.js'

/**
 * `owner`: the hub whose reply named the replicas; `need`: the replicas not heard from yet (one,
 * with the default replication factor: an array beats a set).
 */
interface Waiter { owner: string, need: string[], resolve: (confirmed: boolean) => void }

/** Confirmations kept for publishes nobody waits for yet (their owner's reply is still on its way). */
const EARLY_LIMIT = 20_000

/**
 * The ingress hub's side of chain replication's tail reply (`ReplicaConfirmMessage`): a forwarded
 * QoS ≥ 1 publish is acknowledged once its owner has answered and each replica the owner named
 * (`confirmBy`) has confirmed its copy. The replica's confirmation and the owner's reply travel on
 * different links, so a confirmation may arrive first; it is kept (bounded) until the wait starts.
 */
export class ReplicaConfirmations {
  /** Waits by publish id; one past its deadline ends false. */
  readonly #waiting: DeadlineMap<string, Waiter>
  /** id → replicas that confirmed before anyone waited, or false: its copies failed (insertion order = age). */
  readonly #early = new Map<string, string[] | false>()

  constructor(clock: Clock) {
    this.#waiting = new DeadlineMap(clock, (_id, waiter) => waiter.resolve(false))
  }

  /**
   * Resolves true once every hub of `replicas` has confirmed `id` (a publish `owner` numbered),
   * false after `timeoutMs`, once the owner or a replica it still waits for is dead (`hubsGone`),
   * or once the owner says the copies failed (`failed`).
   */
  wait(id: string, owner: string, replicas: readonly string[], timeoutMs: number): Promise<boolean> {
    const early = this.#early.get(id)
    let need = [...replicas]
    if (early === false) {
      this.#early.delete(id)
      return Promise.resolve(false)
    }
    if (early) {
      this.#early.delete(id)
      need = need.filter((hub) => !early.includes(hub))
      if (need.length === 0) return Promise.resolve(true)
    }
    return new Promise((resolve) => { this.#waiting.set(id, { owner, need, resolve }, timeoutMs) })
  }

  /** `from` has committed its copies of these publishes. */
  confirmed(from: string, ids: readonly string[]): void {
    for (const id of ids) {
      const waiter = this.#waiting.get(id)
      if (waiter) {
        const i = waiter.need.indexOf(from)
        if (i >= 0) waiter.need.splice(i, 1)
        if (waiter.need.length === 0) {
          this.#waiting.take(id)
          waiter.resolve(true)
        }
        continue
      }
      const early = this.#early.get(id)
      if (early === false) continue
      if (early) { if (!early.includes(from)) early.push(from); continue }
      this.#keepEarly(id, [from])
    }
  }

  /**
   * The owner says the copies of these publishes failed (a replica refused or failed them): their
   * waits end now (false), so their ingress retries them at once rather than at the deadline
   * (their owner keeps their place meanwhile: `RetryHolds`).
   */
  failed(ids: readonly string[]): void {
    for (const id of ids) {
      const waiter = this.#waiting.take(id)
      if (waiter) waiter.resolve(false)
      else this.#keepEarly(id, false)
    }
  }

  #keepEarly(id: string, value: string[] | false): void {
    if (this.#early.size >= EARLY_LIMIT) {
      // Dropped, the publish's wait times out and the forward is retried: slower, not wrong.
      const oldest = this.#early.keys().next()
      if (oldest.done !== true) this.#early.delete(oldest.value)
    }
    this.#early.set(id, value)
  }

  /**
   * The ring changed: a wait on a hub that is no longer alive ends now (false) instead of at its
   * deadline. An owner killed between its reply and its copies sends no copy; its publishes are
   * retried on the new owner as soon as this hub has seen the death (which also holds back the
   * key's later publishes until then: `ForwardOrder`).
   */
  hubsGone(alive: (hub: string) => boolean): void {
    const gone = (w: Waiter): boolean => !alive(w.owner) || w.need.some((hub) => !alive(hub))
    for (const waiter of this.#waiting.takeWhere(gone)) waiter.resolve(false)
  }

  /** Ends every wait (false): the router stops. */
  close(): void {
    for (const waiter of this.#waiting.clear()) waiter.resolve(false)
    this.#early.clear()
  }

  get size(): { waiting: number, early: number } { return { waiting: this.#waiting.size, early: this.#early.size } }
}
