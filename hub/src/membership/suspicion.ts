import type { Clock, TimerHandle } from '../base/clock.js'

/**
 * Lifeguard LHA-Suspicion ("Lifeguard: Local Health Awareness for More Accurate Failure
 * Detection", Dadgar, Phillips, Currey, 2018), as memberlist implements it in `suspicion.go`
 * and `util.go`: a suspect's timer starts at a maximum and shrinks toward a minimum as other
 * members independently confirm the suspicion. One slow or badly connected prober alone then
 * needs the long timeout, which leaves the suspect time to refute (SWIM §4.2), while a real
 * crash, seen by many, is declared after the short one.
 */

export interface SuspicionTimeoutInput {
  /** Members known, this hub included (memberlist `estNumNodes`). */
  n: number
  /** Multiplier of the probe interval (memberlist `SuspicionMult`, LAN default 4). */
  suspicionMult: number
  probeIntervalMs: number
}

/**
 * The minimum suspicion timeout: `mult × max(1, log10(max(1, n))) × probeInterval`, memberlist
 * `suspicionTimeout`. It grows with log N because dissemination (and thus a refutation) takes
 * O(log N) gossip rounds to reach everyone. Like memberlist, keeps 3 decimals of the scale.
 */
export function suspicionTimeoutMs({ n, suspicionMult, probeIntervalMs }: SuspicionTimeoutInput): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)))
  return Math.floor((suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000)
}

export interface SuspicionBounds {
  /** Timeout once `k` confirmations arrived (and the whole timeout when `k` is 0). */
  minMs: number
  /** Timeout with no confirmation: `suspicionMaxTimeoutMult × minMs`. */
  maxMs: number
}

export function suspicionBoundsMs(input: SuspicionTimeoutInput & { suspicionMaxTimeoutMult: number }): SuspicionBounds {
  const minMs = suspicionTimeoutMs(input)
  return { minMs, maxMs: input.suspicionMaxTimeoutMult * minMs }
}

/**
 * Independent confirmations that drive the timer to its minimum: `suspicionMult − 2`, so the
 * nominal timeout is reached two probe intervals short of what the multiplier allows, since
 * peers probe with no known phase relation to us (memberlist `suspectNode`). Capped at `n − 2`,
 * the members that can confirm at all (neither we nor the suspect). memberlist sets k to 0 when
 * `n − 2 < k` (so the minimum applies from the start); capping keeps small rings (N = 3, 4 with
 * `lan`) waiting for the one or two members that can still confirm, so a single bad link cannot
 * shortcut to the minimum, while a real crash, which they all see, still gets there.
 */
export function expectedConfirmations(suspicionMult: number, n: number): number {
  return Math.max(0, Math.min(suspicionMult - 2, n - 2))
}

export interface RemainingInput {
  /** Independent confirmations so far (the starter not counted). */
  confirmations: number
  k: number
  /** Time since the suspicion started. */
  elapsedMs: number
  minMs: number
  maxMs: number
}

/**
 * Time left before the suspect is declared dead (memberlist `remainingSuspicionTime`):
 * `max − (max − min) · log(c + 1) / log(k + 1)`, floored to whole ms, never below `min`, minus
 * the time already elapsed. May be ≤ 0: fire now. With `k < 1` the minimum applies throughout.
 */
export function remainingSuspicionMs({ confirmations, k, elapsedMs, minMs, maxMs }: RemainingInput): number {
  if (k < 1) return minMs - elapsedMs
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1)
  const timeoutMs = Math.max(minMs, Math.floor(maxMs - fraction * (maxMs - minMs)))
  return timeoutMs - elapsedMs
}

export interface SuspicionOptions {
  clock: Clock
  /** The member whose accusation started this suspicion; its own gossip never confirms it. */
  from: string
  /** Confirmations wanted to reach `minMs` (`expectedConfirmations`). */
  k: number
  minMs: number
  maxMs: number
  /** Called once when the timer runs out, with the confirmations counted by then. */
  onTimeout: (confirmations: number) => void
}

/**
 * One running suspicion timer (memberlist `suspicion`). Created when a member turns suspect,
 * `confirm`ed for every further suspect message about the same incarnation, `cancel`led when
 * the member is refuted, declared dead or removed. Never calls back synchronously from
 * `confirm`: an expiry it causes is scheduled at 0 ms, so the message handler finishes first.
 */
export class Suspicion {
  readonly #clock: Clock
  readonly #k: number
  readonly #minMs: number
  readonly #maxMs: number
  readonly #onTimeout: (confirmations: number) => void
  readonly #startMs: number
  /** Everyone who has accused, the starter included, so each counts at most once. */
  readonly #accusers = new Set<string>()
  #confirmations = 0
  #deadlineMs: number
  #timer: TimerHandle | undefined
  #state: 'running' | 'fired' | 'cancelled' = 'running'

  constructor(options: SuspicionOptions) {
    this.#clock = options.clock
    this.#k = options.k
    this.#minMs = options.minMs
    this.#maxMs = options.maxMs
    this.#onTimeout = options.onTimeout
    this.#accusers.add(options.from)
    this.#startMs = this.#clock.monotonicMs()
    const timeoutMs = this.#k < 1 ? this.#minMs : this.#maxMs
    this.#deadlineMs = this.#startMs + timeoutMs
    this.#timer = this.#clock.setTimeout(() => this.#fire(), timeoutMs)
  }

  /** Independent confirmations counted so far. */
  get confirmations(): number { return this.#confirmations }

  /** Monotonic time (`clock.monotonicMs()`) at which the timer fires if nothing changes. */
  get deadlineMs(): number { return this.#deadlineMs }

  get state(): 'running' | 'fired' | 'cancelled' { return this.#state }

  /**
   * Counts `from` as an independent confirmation. Returns true when that was new information,
   * which the caller re-gossips so others can count it too; false for the starter, a repeated
   * confirmer, once `k` confirmations are in, or after the timer ended.
   */
  confirm(from: string): boolean {
    if (this.#state !== 'running' || this.#confirmations >= this.#k) return false
    if (this.#accusers.has(from)) return false
    this.#accusers.add(from)
    this.#confirmations++
    const elapsedMs = this.#clock.monotonicMs() - this.#startMs
    const remainingMs = remainingSuspicionMs({
      confirmations: this.#confirmations, k: this.#k, elapsedMs, minMs: this.#minMs, maxMs: this.#maxMs,
    })
    this.#clock.clearTimeout(this.#timer)
    const delayMs = Math.max(0, remainingMs)
    this.#deadlineMs = this.#clock.monotonicMs() + delayMs
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delayMs)
    return true
  }

  /** Stops the timer for good (refuted, declared dead by a message, or removed). Idempotent. */
  cancel(): void {
    if (this.#state !== 'running') return
    this.#state = 'cancelled'
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #fire(): void {
    if (this.#state !== 'running') return
    this.#state = 'fired'
    this.#timer = undefined
    this.#onTimeout(this.#confirmations)
  }
}
