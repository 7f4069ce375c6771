/**
 * A Jepsen-style history of one fault scenario: every publish attempt, every acknowledgement and
 * every delivery, each message named by a unique id (`<key>:<n>`, n counting up per key in the
 * order its one publisher sent it), and the checker that reads it.
 *
 * What `check` reports, per subscriber and in total:
 * - lost: acknowledged messages a subscriber that must hold them does not (0 allowed: invariant 3);
 * - phantoms: deliveries of an id nobody attempted;
 * - duplicates: a second (third, ...) delivery of one id to one subscriber (QoS 1 allows it;
 *   reported);
 * - reorders: the first delivery of an acknowledged message of a key numbered below one that
 *   subscriber already got of that key (invariant 2; a repeat of an earlier message is a
 *   duplicate, not a reorder). The same for a message never acknowledged is counted apart
 *   (`inDoubtReorders`): its publisher was never told it exists.
 *
 * Times are `performance.now()` milliseconds of the test process.
 */
export interface Attempt {
  id: string
  key: string
  n: number
  /** The publisher connection (e.g. the hub it is connected to). */
  client: string
  sentMs: number
  ackedMs?: number
}

export interface SubscriberCheck {
  received: number
  /** Acknowledged messages this subscriber must hold and does not. */
  lost: number
  phantoms: number
  duplicates: number
  /** Reorders of acknowledged messages (a late first delivery of one that was acknowledged). */
  reorders: number
  /** Late first deliveries of messages never acknowledged (in doubt: numbered by a hub that could not get them copied). */
  inDoubtReorders: number
}

export interface HistoryCheck {
  attempted: number
  acked: number
  /** Attempted, never acknowledged (QoS 1 lets such a message be delivered or not). */
  unacked: number
  /** Sums over the subscribers checked. */
  lost: number
  phantoms: number
  duplicates: number
  reorders: number
  inDoubtReorders: number
  /** Reorders per key, summed over subscribers (only keys with some). */
  reordersByKey: Map<string, number>
  subscribers: Map<string, SubscriberCheck>
  /** Up to 10 lines naming lost messages and the first reorders, for the test output. */
  explain: string[]
}

export interface CheckOptions {
  /**
   * Whether `subscriber` must hold acknowledged message `a` (default: every one). A subscriber on
   * a killed hub, or one that subscribed late, holds only what was acknowledged while it listened.
   */
  mustHave?: (subscriber: string, a: Attempt) => boolean
  /** Time origin for the explanation lines (e.g. the fault), ms. */
  zeroMs?: number
}

/** Splits `<key>:<n>`; undefined for anything else. */
export function parseId(id: string): { key: string, n: number } | undefined {
  const at = id.lastIndexOf(':')
  if (at <= 0) return undefined
  const n = Number(id.slice(at + 1))
  return Number.isInteger(n) && n > 0 ? { key: id.slice(0, at), n } : undefined
}

export class History {
  readonly attempts = new Map<string, Attempt>()
  readonly #deliveries = new Map<string, Array<{ id: string, atMs: number }>>()

  /** A publish of `id` (`<key>:<n>`) was sent by `client`. */
  attempt(id: string, client: string, sentMs = performance.now()): Attempt {
    const parsed = parseId(id)
    if (!parsed) throw new RangeError(`message id ${id} is not <key>:<n>`)
    if (this.attempts.has(id)) throw new RangeError(`message id ${id} attempted twice: ids must be unique`)
    const a: Attempt = { id, key: parsed.key, n: parsed.n, client, sentMs }
    this.attempts.set(id, a)
    return a
  }

  /** The publish of `id` was acknowledged (PUBACK); a second ack of one id keeps the first time. */
  ack(id: string, atMs = performance.now()): void {
    const a = this.attempts.get(id)
    if (!a) throw new RangeError(`ack of ${id}, never attempted`)
    a.ackedMs ??= atMs
  }

  /** Declares a subscriber, so that it is checked even if it receives nothing. */
  subscriber(name: string): void {
    if (!this.#deliveries.has(name)) this.#deliveries.set(name, [])
  }

  /** `subscriber` received the message whose payload is `id`. */
  deliver(subscriber: string, id: string, atMs = performance.now()): void {
    this.subscriber(subscriber)
    ;(this.#deliveries.get(subscriber) as Array<{ id: string, atMs: number }>).push({ id, atMs })
  }

  /** What `subscriber` received, in arrival order. */
  received(subscriber: string): readonly string[] {
    return (this.#deliveries.get(subscriber) ?? []).map((d) => d.id)
  }

  get acked(): Attempt[] { return [...this.attempts.values()].filter((a) => a.ackedMs !== undefined) }

  /** Whether every subscriber holds every acknowledged message it must (to wait for the tail). */
  complete(mustHave: CheckOptions['mustHave'] = () => true): boolean {
    const acked = this.acked
    for (const [name, list] of this.#deliveries) {
      const got = new Set(list.map((d) => d.id))
      if (acked.some((a) => mustHave(name, a) && !got.has(a.id))) return false
    }
    return true
  }

  check(options: CheckOptions = {}): HistoryCheck {
    const mustHave = options.mustHave ?? (() => true)
    const zero = options.zeroMs ?? 0
    const acked = this.acked
    const subscribers = new Map<string, SubscriberCheck>()
    const reordersByKey = new Map<string, number>()
    const explain: string[] = []
    const note = (line: string): void => { if (explain.length < 10) explain.push(line) }
    for (const [name, list] of this.#deliveries) {
      const seen = new Set<string>()
      const highest = new Map<string, number>()
      const c: SubscriberCheck = { received: list.length, lost: 0, phantoms: 0, duplicates: 0, reorders: 0, inDoubtReorders: 0 }
      for (const { id, atMs } of list) {
        const a = this.attempts.get(id)
        if (!a) { c.phantoms++; note(`${name}: phantom ${id} at ${Math.round(atMs - zero)} ms`); continue }
        if (seen.has(id)) { c.duplicates++; continue }
        seen.add(id)
        const top = highest.get(a.key) ?? 0
        if (a.n < top && a.ackedMs === undefined) c.inDoubtReorders++
        else if (a.n < top) {
          c.reorders++
          reordersByKey.set(a.key, (reordersByKey.get(a.key) ?? 0) + 1)
          note(`${name}: reordered ${id} after ${a.key}:${top}, at ${Math.round(atMs - zero)} ms`)
        } else highest.set(a.key, a.n)
      }
      const lost: Attempt[] = []
      for (const a of acked) {
        if (!mustHave(name, a) || seen.has(a.id)) continue
        c.lost++
        lost.push(a)
        note(`${name}: lost ${a.id} (from ${a.client}), sent at ${Math.round(a.sentMs - zero)} ms, acked at ${Math.round((a.ackedMs as number) - zero)} ms`)
      }
      if (lost.length > 0) {
        // Gaps (a later message of the key arrived) point at a skipped delivery; a tail at one never sent.
        const gaps = lost.filter((a) => (highest.get(a.key) ?? 0) > a.n).length
        const sent = lost.map((a) => a.sentMs - zero)
        explain.push(`${name}: ${lost.length} lost on ${new Set(lost.map((a) => a.key)).size} keys, sent ${Math.round(Math.min(...sent))}..${Math.round(Math.max(...sent))} ms; ${gaps} of them before a later delivery of their key`)
      }
      subscribers.set(name, c)
    }
    const sum = (f: keyof SubscriberCheck): number => [...subscribers.values()].reduce((s, c) => s + c[f], 0)
    return {
      attempted: this.attempts.size, acked: acked.length, unacked: this.attempts.size - acked.length,
      lost: sum('lost'), phantoms: sum('phantoms'), duplicates: sum('duplicates'), reorders: sum('reorders'), inDoubtReorders: sum('inDoubtReorders'),
      reordersByKey, subscribers, explain,
    }
  }

  /**
   * Recovery after a fault at `fromMs`: for each of `keys`, the time from `fromMs` to the first
   * acknowledgement of a publish of that key sent at or after `fromMs`; the largest of them
   * (Infinity when some key never got one), ms.
   */
  recoveryMs(fromMs: number, keys: Iterable<string>): number {
    const first = new Map<string, number>()
    for (const a of this.attempts.values()) {
      if (a.ackedMs === undefined || a.sentMs < fromMs) continue
      const t = first.get(a.key)
      if (t === undefined || a.ackedMs < t) first.set(a.key, a.ackedMs)
    }
    let worst = 0
    for (const key of keys) {
      const t = first.get(key)
      if (t === undefined) return Infinity
      worst = Math.max(worst, t - fromMs)
    }
    return worst
  }

  /** Acknowledgements received in [fromMs, toMs) of publishes sent in that window, per `client` filter. */
  ackedBetween(fromMs: number, toMs: number, client?: (c: string) => boolean): Attempt[] {
    return this.acked.filter((a) => (a.ackedMs as number) >= fromMs && (a.ackedMs as number) < toMs && (client === undefined || client(a.client)))
  }
}
