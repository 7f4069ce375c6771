import type { Clock, TimerHandle } from '../base/clock.js'
import { TransportError } from '../base/errors.js'

/** One publish of a key on its way to the key's owner (see `ForwardOrder`). */
export interface ForwardTicket {
  readonly key: string
  /** Its place among its ingress run's publishes (`PublishOrigin.n`): rises with arrival. */
  readonly n: number
  /** When the publish gives up, ms (`ForwardOrder.now()`: a wall-clock jump moves no deadline, a stall of this process none nearer). */
  readonly deadlineMs: number
  /** The hub its current attempt went to; undefined while it waits to (re)try. */
  target: string | undefined
  /** Set while it waits in `ready`. */
  wake: (() => void) | undefined
  fail: ((err: Error) => void) | undefined
}

/** The publishes of one key this hub has not finished, in arrival order. */
interface Lane {
  readonly tickets: ForwardTicket[]
  /** Tickets without a target (waiting to try or to retry). */
  unsent: number
  /** Tickets on their way, by the hub they went to. */
  readonly sentTo: Map<string, number>
  /** While set, the key backs off: no attempt starts until the timer has fired. */
  timer: TimerHandle | undefined
  /** When the current backoff ends, ms (`ForwardOrder.now()`; for deadlines only: timers may fire a
   *  millisecond before the clock reads it). */
  retryAtMs: number
  delayMs: number
}

export interface ForwardOrderDeps {
  clock: Clock
  /**
   * Monotonic time this process did not run (a SIGSTOP, a paused VM: `StallWatch.pausedMs`), left
   * out of deadlines: a publish forwarded just before a pause still has its time after it. None: 0.
   */
  pausedMs?(): number
  ownerOf(key: string): string | undefined
  /** First backoff of a key after a failed attempt, doubling up to `maxDelayMs`. */
  minDelayMs: number
  maxDelayMs: number
}

/**
 * Keeps the publishes of one key in their arrival order on their way to the key's owner, across
 * retries ([MQTT-4.6.0-6]: a topic's messages from one client go to subscribers in the order they
 * were received). Without it each publish retried on its own backoff, so after an owner failed
 * the pipelined publishes of a client reached the new owner in any order.
 *
 * Rule: a publish starts an attempt only when every earlier unfinished publish of its key is on
 * its way to the hub that owns the key now (same connection, so the owner receives them in
 * order), and the key is not backing off. A failed attempt makes the whole key back off
 * (`minDelayMs` doubling to `maxDelayMs`: 25 ms to 1 s in the router); when the backoff ends, or
 * the ring changes, the waiting publishes go again in arrival order within one event-loop turn.
 * In a stable ring every publish goes at once (`ready` returns undefined, no promise).
 */
export class ForwardOrder {
  readonly #lanes = new Map<string, Lane>()
  #closed = false

  constructor(private readonly deps: ForwardOrderDeps) {}

  /** The time deadlines are measured in: monotonic, less the time this process did not run. */
  now(): number { return this.deps.clock.monotonicMs() - (this.deps.pausedMs?.() ?? 0) }

  /** A new publish of `key`, ordered after every earlier one; `n` rises from call to call. */
  enter(key: string, deadlineMs: number, n: number): ForwardTicket {
    let lane = this.#lanes.get(key)
    if (!lane) this.#lanes.set(key, lane = { tickets: [], unsent: 0, sentTo: new Map(), retryAtMs: 0, delayMs: this.deps.minDelayMs, timer: undefined })
    const ticket: ForwardTicket = { key, n, deadlineMs, target: undefined, wake: undefined, fail: undefined }
    lane.tickets.push(ticket)
    lane.unsent++
    return ticket
  }

  /**
   * The `n` of the first publish of `key` not finished yet (`ticket`'s, or an earlier one's): every
   * publish of the key entered before it has been acknowledged or given up.
   */
  firstOf(ticket: ForwardTicket): number {
    return (this.#lanes.get(ticket.key)?.tickets[0] ?? ticket).n
  }

  /**
   * Undefined when `ticket` may start an attempt now; otherwise a promise that resolves when it
   * may (or rejects with a timeout at its deadline, or when closed). The caller starts the attempt
   * in the same turn and calls `sent`, so the next publish goes after it.
   */
  ready(ticket: ForwardTicket): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(new TransportError('closed', `publish to key ${ticket.key}: the router stopped`))
    const lane = this.#lanes.get(ticket.key) as Lane
    if (this.#mayGo(lane, ticket)) return undefined
    return new Promise((resolve, reject) => {
      ticket.wake = resolve
      ticket.fail = reject
    })
  }

  /** The attempt of `ticket` is on its way to `target` (this hub for the local path). */
  sent(ticket: ForwardTicket, target: string): void {
    const lane = this.#lanes.get(ticket.key) as Lane
    this.#unsend(lane, ticket)
    lane.unsent--
    ticket.target = target
    lane.sentTo.set(target, (lane.sentTo.get(target) ?? 0) + 1)
    this.#pump(lane)
  }

  /**
   * The attempt failed and may be retried: the key backs off (later publishes wait too). Returns
   * false when the backoff would end after the ticket's deadline (the caller gives up).
   */
  failed(ticket: ForwardTicket): boolean {
    const lane = this.#lanes.get(ticket.key) as Lane
    this.#unsend(lane, ticket)
    const now = this.now()
    // Publishes failing together (a connection lost) count as one failure of the key.
    if (!lane.timer) {
      lane.retryAtMs = now + lane.delayMs
      lane.timer = this.deps.clock.setTimeout(() => { lane.timer = undefined; this.#pump(lane) }, lane.delayMs)
      lane.timer.unref()
      lane.delayMs = Math.min(this.deps.maxDelayMs, lane.delayMs * 2)
    }
    return !this.#closed && lane.retryAtMs <= ticket.deadlineMs
  }

  /** The publish is finished: acknowledged (`ok`) or given up. */
  done(ticket: ForwardTicket, ok: boolean): void {
    const lane = this.#lanes.get(ticket.key)
    if (!lane) return
    const i = lane.tickets.indexOf(ticket)
    if (i < 0) return
    this.#unsend(lane, ticket)
    lane.tickets.splice(i, 1)
    lane.unsent--
    if (ok) lane.delayMs = this.deps.minDelayMs
    if (lane.tickets.length === 0) {
      this.deps.clock.clearTimeout(lane.timer)
      this.#lanes.delete(ticket.key)
      return
    }
    this.#pump(lane)
  }

  /**
   * The ring changed: backoffs end now, so publishes waiting for an owner that died go to the new
   * one at once rather than after up to `maxDelayMs`, and start again from `minDelayMs`. The new
   * owner may not have seen the change yet and refuse the first attempt; its view follows within
   * a gossip round or two, and a backoff grown against the dead owner would add up to a second.
   */
  ringChanged(): void {
    for (const lane of this.#lanes.values()) {
      lane.delayMs = this.deps.minDelayMs
      if (!lane.timer) continue
      this.deps.clock.clearTimeout(lane.timer)
      lane.timer = undefined
      this.#pump(lane)
    }
  }

  /** Fails every waiting publish (the router stops). */
  close(): void {
    this.#closed = true
    for (const lane of this.#lanes.values()) {
      this.deps.clock.clearTimeout(lane.timer)
      lane.timer = undefined
      for (const t of lane.tickets) this.#reject(t, 'the router stopped')
    }
  }

  /** Makes a ticket on its way one that waits again (unsent). */
  #unsend(lane: Lane, ticket: ForwardTicket): void {
    const target = ticket.target
    if (target === undefined) return
    ticket.target = undefined
    lane.unsent++
    const n = (lane.sentTo.get(target) ?? 0) - 1
    if (n > 0) lane.sentTo.set(target, n)
    else lane.sentTo.delete(target)
  }

  /** Whether `ticket` (unsent) may start an attempt: see the class comment. */
  #mayGo(lane: Lane, ticket: ForwardTicket): boolean {
    if (this.#closed || lane.timer) return false
    const owner = this.deps.ownerOf(ticket.key)
    // The usual case, without a scan: nothing else waits, and whatever is on its way went to
    // the owner (stricter than needed for a retry: later publishes to an old owner hold it too).
    if (lane.unsent === 1) return lane.sentTo.size === 0 || (lane.sentTo.size === 1 && owner !== undefined && lane.sentTo.has(owner))
    for (const t of lane.tickets) {
      if (t === ticket) return true
      if (t.target === undefined || t.target !== owner) return false
    }
    return false
  }

  /** Wakes the first waiting publish that may go (it wakes the next one through `sent`). */
  #pump(lane: Lane): void {
    if (lane.unsent === 0) return
    const now = this.now()
    for (const t of lane.tickets) {
      if (t.target !== undefined) continue
      if (now > t.deadlineMs) { this.#reject(t, `no owner acknowledged before the deadline`); continue }
      if (t.wake && this.#mayGo(lane, t)) {
        const wake = t.wake
        t.wake = t.fail = undefined
        wake()
      }
      return
    }
  }

  #reject(t: ForwardTicket, why: string): void {
    const fail = t.fail
    t.wake = t.fail = undefined
    fail?.(new TransportError('timeout', `publish to key ${t.key}: ${why}`))
  }
}
