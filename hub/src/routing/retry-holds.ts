import type { Clock, TimerHandle } from '../base/clock.js'
import type { PublishOrigin } from './ingress.js'

/**
 * Where a message stands in its key's line. By its arrival here (`base` = `arrival`), except that
 * it goes before the later publishes of its own ingress run already in line: it takes the `base`
 * of the first of them, and the run's order (`n`) among them. A retry can reach this hub after
 * messages its ingress sent after it (its first attempt refused while the key could not be taken
 * over, theirs refused in a failed take-over and kept); by arrival alone it went behind them.
 * Compared by `base`, then `n`, then `arrival`: a total order. A `base` other than its own arrival
 * is taken only from a message of the same run, so `n` decides only between messages of one run.
 */
interface Place {
  readonly base: number
  /** Its place in its ingress run (0 without an origin). */
  readonly n: number
  /** The arrival of the attempt that took this place (a later attempt of the message keeps it). */
  readonly arrival: number
  readonly source: string | undefined
}

/** A message of a key refused for now, or numbered here with failed copies: its retry goes first. */
interface Hold {
  /** The publish id its ingress retries it with. */
  readonly id: string
  /** Its ingress hub (this one for a local publish). */
  readonly via: string
  /** Where its first attempt stands (arrived then). */
  readonly place: Place
  readonly untilMs: number
}

/** A message waiting at the gate of its key: it goes once nothing before it waits. */
interface Parked {
  readonly arrival: number
  readonly place: Place
  /** A retry being answered (`enter`): its id, whose hold then lasts until it leaves. */
  readonly id: string | undefined
  wake: (() => void) | undefined
}

interface KeyGate {
  holds: Hold[]
  parked: Parked[]
  /** Fires at the first hold's end. */
  timer: TimerHandle | undefined
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
 * So while a key holds such messages, it numbers in line (`Place`: arrival order, each message
 * before the later publishes of its own ingress run): a held message's retry takes its first
 * attempt's place, and every other message waits (`turn`) until nothing before it is held or
 * waiting. (Refusing the others instead was not enough: a refused message's
 * retry came after later messages already on their way. Nor was waking the waiting ones alone:
 * a message resuming from a take-over went ahead of them before they ran.) A hold ends when its
 * message is numbered (again) or copied, when its ingress hub is dead, when its ingress says it has
 * finished it (`finishedBefore`: answered by another owner after the key moved, or given up), or
 * after `holdMs`: a live ingress retries well within it, and one that stopped sending the key
 * would otherwise stall it.
 */
export class RetryHolds {
  readonly #gates = new Map<string, KeyGate>()

  constructor(private readonly deps: { clock: Clock, holdMs: number }) {}

  /** Keys holding or making messages wait: 0 on the usual path, which then checks nothing. */
  get size(): number { return this.#gates.size }

  /**
   * `id`, a message of `key` that arrived `arrival`-th from `origin`, will be retried by `via`: it
   * goes first. False when it was held already. A message has one place: if it is in line already
   * (waiting, or its retry being answered), the hold takes that place.
   */
  hold(key: string, id: string, via: string, arrival: number, origin: PublishOrigin | undefined): boolean {
    const gate = this.#gate(key)
    this.#expire(gate)
    if (gate.holds.some((h) => h.id === id)) return false
    const place = gate.parked.find((p) => p.arrival === arrival || p.id === id)?.place ?? placeOf(gate, arrival, origin)
    gate.holds.push({ id, via, place, untilMs: this.deps.clock.monotonicMs() + this.deps.holdMs })
    return true
  }

  /**
   * Undefined when the message (`id`, if it has one, `arrival` and `origin`) may be numbered now:
   * nothing before it (`Place`) is held or waiting. Otherwise it waits: a promise that resolves
   * once the key's holds or waiting messages have changed; the caller then checks everything again
   * (ownership included) and calls `turn` again with the same `arrival`, and `leave` if it gives up.
   */
  turn(key: string, id: string | undefined, arrival: number, origin: PublishOrigin | undefined): Promise<void> | undefined {
    const gate = this.#gates.get(key)
    if (!gate) return undefined
    this.#expire(gate)
    const held = id === undefined ? undefined : gate.holds.find((h) => h.id === id)
    const mine = gate.parked.find((p) => p.arrival === arrival)
    // Its hold's and its waiting entry's places are one (`hold`, `enter`); were they not, taking
    // the later could make it and a message between them wait for each other.
    const place = earliest(held?.place, mine?.place) ?? placeOf(gate, arrival, origin)
    const blocked = gate.holds.some((h) => h !== held && before(h.place, place)) || gate.parked.some((p) => p !== mine && before(p.place, place))
    if (!blocked) {
      if (mine) this.leave(key, arrival)
      else this.#tidy(key, gate)
      return undefined
    }
    const parked = mine ?? push(gate.parked, { arrival, place, id: undefined, wake: undefined })
    // Woken when the first hold that can end by time ends (none while every hold's retry is entered).
    const expiring = gate.timer === undefined ? gate.holds.filter((h) => !entered(gate, h.id)) : []
    if (expiring.length > 0) {
      const untilMs = Math.min(...expiring.map((h) => h.untilMs))
      gate.timer = this.deps.clock.setTimeout(() => { gate.timer = undefined; this.#expire(gate); this.#wake(key) }, Math.max(1, untilMs - this.deps.clock.monotonicMs()))
      gate.timer.unref()
    }
    return new Promise((resolve) => { parked.wake = resolve })
  }

  /**
   * The message that arrived `arrival`-th is being answered over several turns (a retry of one
   * numbered here: its first attempt is awaited, copied again, or numbered anew): until it
   * `leave`s, every later message of the key waits. Its own `turn` with the same `arrival` passes it.
   * Its hold, if it has one (`id`), lasts until then: neither `holdMs` nor its ingress's death
   * ends it while it is being answered (a take-over may take seconds), else a message that
   * arrived between its first attempt and this retry would go ahead of it.
   */
  enter(key: string, arrival: number, id: string, origin: PublishOrigin | undefined): void {
    const gate = this.#gate(key)
    if (gate.parked.some((p) => p.arrival === arrival)) return
    const place = gate.holds.find((h) => h.id === id)?.place ?? placeOf(gate, arrival, origin)
    gate.parked.push({ arrival, place, id, wake: undefined })
  }

  /** The message that arrived `arrival`-th no longer waits (numbered, refused, or answered as a retry). */
  leave(key: string, arrival: number): void {
    const gate = this.#gates.get(key)
    if (!gate) return
    const i = gate.parked.findIndex((p) => p.arrival === arrival)
    if (i < 0) return
    gate.parked.splice(i, 1)
    this.#wake(key)
  }

  /** `id` is through (numbered again, or copied after all). */
  released(key: string, id: string): void {
    const gate = this.#gates.get(key)
    if (!gate?.holds.some((h) => h.id === id)) return
    gate.holds = gate.holds.filter((h) => h.id !== id)
    this.#wake(key)
  }

  /**
   * The ingress run `source` has finished every publish of `key` before `first` (acknowledged, by
   * another owner, or given up; `PublishRequest.first`): their retries will not come, so their
   * holds end now rather than after `holdMs`. A retry being answered (`enter`) keeps its hold.
   * Returns how many ended.
   */
  finishedBefore(key: string, source: string, first: number): number {
    const gate = this.#gates.get(key)
    if (!gate) return 0
    const ends = (h: Hold): boolean => h.place.source === source && h.place.n < first && !entered(gate, h.id)
    const kept = gate.holds.filter((h) => !ends(h))
    const ended = gate.holds.length - kept.length
    if (ended === 0) return 0
    gate.holds = kept
    this.#wake(key)
    return ended
  }

  /**
   * The ring changed: every waiting message checks again (its key may have moved; a hub that no
   * longer owns a key refuses before its gate). The holds stay until they end on their own: a
   * heal can move a key away and back within milliseconds, as each returning hub is seen alive
   * (isolate fault test: 5 ms), and the retries then come here. Dropping the holds at the first
   * move let a later message be numbered ahead of four retries.
   */
  ringChanged(): void {
    for (const key of [...this.#gates.keys()]) this.#wake(key)
  }

  /** `hub` is dead: nothing it held will be retried. */
  hubGone(hub: string): void {
    for (const [key, gate] of [...this.#gates]) {
      if (!gate.holds.some((h) => h.via === hub && !entered(gate, h.id))) continue
      gate.holds = gate.holds.filter((h) => h.via !== hub || entered(gate, h.id))
      this.#wake(key)
    }
  }

  #gate(key: string): KeyGate {
    let gate = this.#gates.get(key)
    if (!gate) this.#gates.set(key, gate = { holds: [], parked: [], timer: undefined })
    return gate
  }

  #expire(gate: KeyGate): void {
    const now = this.deps.clock.monotonicMs()
    const ends = (h: Hold): boolean => h.untilMs <= now && !entered(gate, h.id)
    if (gate.holds.some(ends)) gate.holds = gate.holds.filter((h) => !ends(h))
  }

  /** Every waiting message of `key` checks again (they stay in line until they pass or leave). */
  #wake(key: string): void {
    const gate = this.#gates.get(key)
    if (!gate) return
    this.deps.clock.clearTimeout(gate.timer)
    gate.timer = undefined
    for (const p of gate.parked) {
      const wake = p.wake
      p.wake = undefined
      wake?.()
    }
    this.#tidy(key, gate)
  }

  #tidy(key: string, gate: KeyGate): void {
    if (gate.holds.length > 0 || gate.parked.length > 0) return
    this.deps.clock.clearTimeout(gate.timer)
    this.#gates.delete(key)
  }
}

/** Whether the retry of `id` is being answered (`enter`). */
function entered(gate: KeyGate, id: string): boolean {
  return gate.parked.some((p) => p.id === id)
}

/**
 * The place of a message that arrived `arrival`-th from `origin`, not yet in line (see `Place`):
 * before its run's later publishes in line, and never before its run's earlier ones (a hold made
 * after a failed copy names its first attempt's arrival, which may be older than a retry of an
 * earlier publish already waiting).
 */
function placeOf(gate: KeyGate, arrival: number, origin: PublishOrigin | undefined): Place {
  if (!origin) return { base: arrival, n: 0, arrival, source: undefined }
  let base = arrival
  let floor = -Infinity
  const consider = (p: Place): void => {
    if (p.source !== origin.source) return
    if (p.n > origin.n && p.base < base) base = p.base
    if (p.n < origin.n && p.base > floor) floor = p.base
  }
  for (const h of gate.holds) consider(h.place)
  for (const p of gate.parked) consider(p.place)
  return { base: Math.max(base, floor), n: origin.n, arrival, source: origin.source }
}

function earliest(a: Place | undefined, b: Place | undefined): Place | undefined {
  if (!a || !b) return a ?? b
  return before(b, a) ? b : a
}

/** Whether `a` goes before `b`. */
function before(a: Place, b: Place): boolean {
  if (a.base !== b.base) return a.base < b.base
  return a.n !== b.n ? a.n < b.n : a.arrival < b.arrival
}

function push<T>(list: T[], item: T): T {
  list.push(item)
  return item
}
