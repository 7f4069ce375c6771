import type { Logger } from '../base/log.js'
import type { LogEntry, Offset } from '../store/topic-log.js'
import type { Delivery, LocalDelivery } from './router.js'
import { claimsNothing } from './sent-offsets.js'

/** Rounds of log reads one catch-up makes at most (MAX_LOG_READ entries each). */
const MAX_CATCH_UP_READS = 10
/** Catch-ups after an owner left that read at once; the others wait their turn. */
const PARALLEL_CATCH_UPS = 16
/**
 * Deliveries of one key kept in memory while its gap is read (a read may take seconds when the
 * link keeps breaking). Beyond, only the newest is kept: handed over after the others, it names
 * what came before it, so what was let go is read from its sender's log then.
 */
export const MAX_WAITING_PER_KEY = 10_000
/** `maxReads` of a delivery whose sender was asked where its deliveries began and did not say: not asked again. */
const ASKED = -1

/** `handed`: for this hub's own QoS 1/2 delivery, settles what `deliver` returned once it went (`#release`). */
type Waiting = { source: string, d: Delivery, from?: Offset | undefined, handed?: (queued: Promise<void> | undefined) => void }

export interface DeliveryCursorStats {
  /** Deliveries not handed over because this hub had already handed over that offset. */
  repeatsSkipped: number
  /** Deliveries of an earlier epoch than the key's cursor, handed over late. */
  lateHanded: number
  /** Catch-ups run when a key's epoch changed (a new owner). */
  catchUps: number
  /** Messages handed over by catch-ups: sent by an earlier owner, never received here. */
  caughtUp: number
  /** Catch-ups that could not read the source's log, or not all of a gap (the missing messages stay missing). */
  catchUpFailures: number
  /** Deliveries let go while their key's gap was read, beyond MAX_WAITING_PER_KEY: read from the log after it. */
  waitingLetGo: number
  /**
   * Deliveries from a peer saying it had sent this hub earlier ones of the key, with no cursor
   * here to check that against, whose sender could not say where its deliveries to this hub
   * began (`began`: none on record, it did not answer, or a hub before the question). Nothing is read.
   */
  claimsWithoutCursor: number
  /**
   * Keys with no cursor here whose sender, asked (`began`), said where its deliveries to this hub
   * began: this hub had lost every one of them in a link that broke, and reads them first.
   */
  cursorsFromBegan: number
}

export interface DeliveryCursorDeps {
  self: string
  /** Hands a message to this hub's subscribers (RingEmitter.deliver in a hub). */
  hand(d: Delivery): LocalDelivery | void
  /** A key's log entries after `from`, oldest first, from `hub` (this hub's own log when `hub` is self, read at once). */
  readLog(hub: string, key: string, from: Offset): LogEntry[] | Promise<LogEntry[]>
  /**
   * Where `hub`'s deliveries of `key` to this run of this hub began (undefined: none on record);
   * rejects when `hub` does not answer, or cannot (older hubs).
   */
  began(hub: string, key: string): Promise<Offset | undefined>
  /** A test of whether any of this hub's subscriptions matches a topic (catch-up reads whole keys); taken once per catch-up. */
  wanted(): (topic: string) => boolean
  log: Logger
}

/**
 * What this hub has handed to its subscribers, per key: the last `(epoch, seq)` (a cursor per
 * key). Two uses:
 *
 * - **Each message once.** A delivery at or before the cursor in the cursor's epoch is a repeat (a
 *   retried forward's second fan-out, a replica's fan-out of a copy) and is skipped; one of an
 *   earlier epoch is handed over late rather than dropped (clients dedupe it by origin).
 * - **Nothing lost when a key changes owner.** Deliveries come one way over the link; when an
 *   owner is killed, what it had not yet sent, or what was still in its socket, never arrives,
 *   although it was acknowledged (its replica has it). So when a key's first message of a newer
 *   epoch arrives, this hub first reads the key's log after its cursor from the hub that sent it
 *   (the new owner, which holds the earlier owner's messages as replica copies or as the handoff
 *   tail) and hands over what it never received, then the new message; deliveries of the key
 *   that arrive meanwhile wait, in order.
 */
export class DeliveryCursors {
  readonly stats: DeliveryCursorStats = { repeatsSkipped: 0, lateHanded: 0, catchUps: 0, caughtUp: 0, catchUpFailures: 0, waitingLetGo: 0, claimsWithoutCursor: 0, cursorsFromBegan: 0 }
  readonly #cursors = new Map<string, Offset & { source: string }>()
  /** Keys being caught up: the deliveries that arrived meanwhile, in order. */
  readonly #waiting = new Map<string, Waiting[]>()
  /** Per key being caught up with a full waiting list: the newest delivery let go (MAX_WAITING_PER_KEY). */
  readonly #newestLetGo = new Map<string, Waiting>()

  constructor(private readonly deps: DeliveryCursorDeps & { maxWaitingPerKey?: number }) {}

  /**
   * A message of `key` from `source` (this hub for its own keys, else the owner that sent it).
   * `from`: the source resumes after that offset (a replay after a gap, `DeliverMessage.from`);
   * absent from a peer, the delivery follows the message just before it (`SentOffsets`).
   */
  deliver(source: string, d: Delivery, from?: Offset): LocalDelivery | void {
    return this.#deliver(source, d, from, MAX_CATCH_UP_READS)
  }

  /** `deliver`, with at most `maxReads` log reads for a gap it finds. */
  #deliver(source: string, d: Delivery, from: Offset | undefined, maxReads: number): LocalDelivery | void {
    const waiting = this.#waiting.get(d.key)
    if (waiting) {
      const newest = this.#newestLetGo.get(d.key)
      const top = newest?.d ?? waiting.at(-1)?.d
      // Kept whatever the count: an earlier epoch's copy (a read from the newer owner starts after
      // it), and this hub's own deliveries (no claim is checked for them).
      if (waiting.length < (this.deps.maxWaitingPerKey ?? MAX_WAITING_PER_KEY) || source === this.deps.self || top === undefined || d.epoch < top.epoch) {
        if (source !== this.deps.self || d.qos === 0) {
          waiting.push({ source, d, from })
          return
        }
        // This hub's own QoS 1/2 message: its publisher is acknowledged once the persistent
        // sessions here have it queued (invariant 3), so that waits for it to go as well.
        let handed: (queued: Promise<void> | undefined) => void = () => {}
        const queued = new Promise<void>((resolve) => { handed = resolve })
        waiting.push({ source, d, from, handed })
        return { queued, backlog: 0, drained: () => Promise.resolve() }
      }
      // Not after the newest: a repeat, or within what the newest's read will cover.
      if (!after(d, top)) return
      if (newest) this.stats.waitingLetGo++
      this.#newestLetGo.set(d.key, { source, d, from })
      return
    }
    // A claim: what the sender says came before `d` here (none: `d.seq - 1`). `NO_CLAIM` is none
    // at all, and bounds no gap read: taken as a bound, it ended a newer epoch's read before its
    // first entry and the cursor jumped past the epoch (the 15 s pause scenario lost 217-425
    // messages of a key at the paused hub, 1 run in 4).
    const claim = from !== undefined && claimsNothing(from) ? undefined : from
    const cursor = this.#cursors.get(d.key)
    if (!cursor && source !== this.deps.self && (from === undefined ? d.seq > 1 : claim !== undefined) && maxReads !== ASKED) {
      // Earlier ones were sent here, and none was handed: all of them were lost in a link that
      // broke. Where they began is asked of the sender; meanwhile the key's deliveries wait.
      this.#waiting.set(d.key, [{ source, d, from }])
      this.#askBegan(source, d.key, maxReads).catch(this.#failed(d.key))
      return
    }
    if (cursor && d.epoch < cursor.epoch) {
      // An earlier owner's copy arriving after the new owner's messages: handed over, late,
      // rather than lost (a catch-up may have read the new owner's log before that copy reached
      // it); each client still gets it once (aedes' dedupe by brokerId key@epoch and seq).
      this.stats.lateHanded++
      return this.deps.hand(d)
    }
    if (cursor && !after(d, cursor)) {
      this.stats.repeatsSkipped++
      return
    }
    // A newer epoch (a new owner), or a delivery whose sender sent this hub more of the key since
    // the cursor (a replay that resumes beyond it, or a live one whose predecessors were lost in a
    // link that broke and reconnected; without `from` a peer's delivery follows `seq - 1`,
    // `SentOffsets`): what lies between is read from the source first.
    if (cursor && (d.epoch > cursor.epoch || (from !== undefined ? after(from, cursor) : source !== this.deps.self && d.seq - 1 > cursor.seq))) {
      // Handed over up to the claim only: what lies between it and `d` the sender did not send
      // here (not wanted when it was numbered: a subscription made since must not get it).
      const read = this.deps.readLog(source, d.key, { epoch: cursor.epoch, seq: cursor.seq })
      if (Array.isArray(read)) {
        this.#handMissing(d.key, read, d, claim)
      } else {
        this.#waiting.set(d.key, [{ source, d }])
        this.#catchUp(source, d.key, read, d, claim, maxReads).catch(this.#failed(d.key))
        return
      }
    }
    return this.#hand(d, source)
  }

  /**
   * The ring changed: for every key whose last delivery came from a hub no longer in `members`,
   * reads what came after it from the key's owner now (the dead owner's acknowledged messages
   * that never arrived), even if nothing more is published on the key.
   */
  sourcesGone(members: ReadonlySet<string>, ownerOf: (key: string) => string | undefined): void {
    const keys: Array<[string, string]> = []
    for (const [key, cursor] of this.#cursors) {
      if (cursor.source === this.deps.self || members.has(cursor.source) || this.#waiting.has(key)) continue
      const owner = ownerOf(key)
      if (owner !== undefined) keys.push([key, owner])
    }
    this.#readAll(keys)
  }

  /**
   * Hubs this hub had declared dead are back (a partition healed, a pause ended): for every key
   * one of them owns now, reads what came after the cursor from it. What it sent between the
   * fault and the death verdict went into a broken link; its replay to returning hubs starts at
   * the verdict.
   */
  sourcesBack(back: ReadonlySet<string>, ownerOf: (key: string) => string | undefined): void {
    const keys: Array<[string, string]> = []
    for (const key of this.#cursors.keys()) {
      const owner = ownerOf(key)
      if (owner !== undefined && back.has(owner) && !this.#waiting.has(key)) keys.push([key, owner])
    }
    this.#readAll(keys)
  }

  /** Catch-ups of `keys` from the hub paired with each, PARALLEL_CATCH_UPS at a time. */
  #readAll(keys: Array<[string, string]>): void {
    const next = (): void => {
      const item = keys.shift()
      if (!item) return
      const [key, owner] = item
      const cursor = this.#cursors.get(key)
      if (!cursor || this.#waiting.has(key)) return next()
      const read = this.deps.readLog(owner, key, { epoch: cursor.epoch, seq: cursor.seq })
      if (Array.isArray(read)) {
        this.#handMissing(key, read, undefined)
        cursor.source = owner
        return next()
      }
      this.#waiting.set(key, [])
      this.#catchUp(owner, key, read, undefined).catch(this.#failed(key)).finally(next)
    }
    for (let i = 0; i < PARALLEL_CATCH_UPS; i++) next()
  }

  /** Keys with a cursor. */
  get size(): number { return this.#cursors.size }

  #hand(d: Delivery, source: string): LocalDelivery | void {
    const cursor = this.#cursors.get(d.key)
    if (cursor) {
      cursor.epoch = d.epoch
      cursor.seq = d.seq
      cursor.source = source
    } else this.#cursors.set(d.key, { epoch: d.epoch, seq: d.seq, source })
    return this.deps.hand(d)
  }

  /**
   * Hands over the entries after the cursor and before `next` (the delivery that showed the gap;
   * none: all of them), and none after `until` (the sender's claim, when it named one).
   */
  #handMissing(key: string, entries: readonly LogEntry[], next: Offset | undefined, until?: Offset): void {
    let handed = 0
    const wanted = this.deps.wanted()
    for (const e of entries) {
      if ((next && !after(next, e)) || (until && after(e, until))) break
      const cursor = this.#cursors.get(key) as Offset & { source: string }
      if (!after(e, cursor)) continue
      if (wanted(e.topic)) {
        this.#hand({ key, epoch: e.epoch, seq: e.seq, topic: e.topic, payload: e.payload, qos: e.qos }, cursor.source)
        handed++
      } else {
        cursor.epoch = e.epoch
        cursor.seq = e.seq
      }
    }
    this.stats.catchUps++
    this.stats.caughtUp += handed
  }

  async #catchUp(source: string, key: string, first: Promise<LogEntry[]>, next: Delivery | undefined, until?: Offset, maxReads = MAX_CATCH_UP_READS): Promise<void> {
    const waiting = this.#waiting.get(key) as Waiting[]
    try {
      let entries = await first
      for (let round = 1; ; round++) {
        this.#handMissing(key, entries, next, until)
        const last = entries.at(-1)
        if (!last || (next && !after(next, last)) || (until && !after(until, last))) break
        if (round >= maxReads) {
          // Counted and said, not silent: the rest of the gap stays missing here.
          this.stats.catchUpFailures++
          this.deps.log.warn({ key, source, readUpTo: { epoch: last.epoch, seq: last.seq } }, `a gap longer than ${MAX_CATCH_UP_READS} log reads: the rest stays missing here`)
          break
        }
        entries = await this.deps.readLog(source, key, last)
      }
    } catch (err) {
      this.stats.catchUpFailures++
      this.deps.log.warn({ err, key, source }, 'could not read the new owner\'s log after an ownership change; messages of the earlier owner may be missing here')
    } finally {
      // Caught up (or given up): the new epoch starts with `next`, which goes now, then the rest.
      const cursor = this.#cursors.get(key) as Offset & { source: string }
      if (next && after({ epoch: next.epoch, seq: next.seq - 1 }, cursor)) {
        cursor.epoch = next.epoch
        cursor.seq = next.seq - 1
      }
      cursor.source = source
      this.#release(key, waiting)
    }
  }

  /**
   * Asks `source` where its deliveries of `key` to this hub began, for a delivery (the first one
   * waiting) that claimed earlier ones with no cursor here. Told, the cursor starts just before,
   * and the waiting deliveries go through the usual checks: the claim shows the gap, read from
   * `source`. Not told, they are handed as they are, the first one counted (`claimsWithoutCursor`).
   */
  async #askBegan(source: string, key: string, maxReads: number): Promise<void> {
    const waiting = this.#waiting.get(key) as Waiting[]
    const first = await this.deps.began(source, key).catch((err: unknown) => {
      this.deps.log.debug({ err, key, source }, 'could not ask where a peer\'s deliveries of a key to this hub began')
      return undefined
    })
    const [asked, ...rest] = waiting
    // A start after the asked delivery is not its run's: the sender dropped its records since (a
    // link opened to this run of this hub after the delivery was queued on the link while it was
    // dialed, the records then being those of the run before) and started new ones.
    const told = first !== undefined && asked !== undefined && !after(first, asked.d) && !this.#cursors.has(key)
    if (told) {
      this.#cursors.set(key, { epoch: first.epoch, seq: first.seq - 1, source })
      this.stats.cursorsFromBegan++
    } else this.stats.claimsWithoutCursor++
    this.#waiting.delete(key)
    // The asked one goes first, through the checks (once: not asked again).
    if (asked) this.#deliver(asked.source, asked.d, asked.from, told ? maxReads : ASKED)
    if (this.#waiting.has(key)) {
      (this.#waiting.get(key) as Waiting[]).push(...rest)
      return
    }
    this.#release(key, rest)
  }

  /**
   * For the background work on a key (a catch-up, a question): handing a delivery over threw
   * (a bug in the hand-over, not a peer's doing). Logged, not left to crash the hub as an
   * unhandled rejection; the key's deliveries that waited behind it may be stuck.
   */
  #failed(key: string): (err: unknown) => void {
    return (err) => this.deps.log.error({ err, key }, 'delivery cursors: handing a key\'s deliveries over failed')
  }

  /** Ends a key's wait: what waited goes, in order, then the newest let go (MAX_WAITING_PER_KEY). */
  #release(key: string, waiting: readonly Waiting[]): void {
    this.#waiting.delete(key)
    const newest = this.#newestLetGo.get(key)
    this.#newestLetGo.delete(key)
    for (const w of waiting) {
      let local: LocalDelivery | void
      try {
        local = this.deliver(w.source, w.d, w.from)
      } catch (err) {
        w.handed?.(Promise.reject(err))
        throw err
      }
      w.handed?.(local?.queued)
    }
    // What was let go lies between the last kept and this one: its claim shows the gap, read
    // without the round limit (it may be longer than what one gap read takes).
    if (newest) this.#deliver(newest.source, newest.d, newest.from, Infinity)
  }
}

/** Whether `a` comes after `b` in a key's order. */
function after(a: Offset, b: Offset): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq)
}
