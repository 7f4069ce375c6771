import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { MemorySample } from '../base/process-memory.js'

/**
 * With a cap, how far past the live heap V8 may let its old space grow before a full collection,
 * percent (V8's own factor goes up to 300 %). test/faults/capacity.fault.ts at 2× capacity: peak
 * RSS 420 MB with V8's default, 241 MB at 30 %, 278 MB at 100 %; capacity unchanged within noise.
 */
export const HEAP_GROWTH_PERCENT_UNDER_CAP = 50

/**
 * Fraction of the cap at which the governor turns overload on. RSS is the memory in use plus the
 * free heap V8 keeps, which reached 83 MB at 2× capacity (a CI run, cap 320 MB: RSS 344 = 261 in
 * use + 83 free), so high water leaves room for it: at 75 % it did not.
 */
export const HIGH_WATER_FRACTION = 0.7
/** Fraction of the cap below which it turns overload off again. */
export const LOW_WATER_FRACTION = 0.6
/** How often RSS is sampled, ms. */
export const SAMPLE_MS = 100
/**
 * Bytes read from clients after which memory is looked at again at once, between two timer
 * samples (`noteRead`). Under a flood one turn of the event loop reads a chunk from every client
 * and handles its publishes: a timer due every 100 ms then fires every few hundred, and a CI run
 * saw the memory in use go from below high water (240 MB of a 320 cap) to 293 MB between two
 * samples, and RSS to 344. A look costs ~15 µs (`process.memoryUsage()`): at 256 KiB, under 1 ms
 * a second at this hub's full speed.
 */
export const READ_CHECK_BYTES = 256 * 1024
/**
 * Samples in a row without a new low after which an episode is re-judged. Between the marks, it
 * ends: native memory (SQLite, freed buffers glibc keeps) may settle above the low-water mark
 * once the load is gone and never reach it, and below high water and no longer falling is as
 * small as the hub gets. At or above high water, garbage is collected (`reclaim`) and the count
 * starts again; if that plateau is still at high water the episode ends all the same. Measured
 * (test/faults/capacity.fault.ts): once reads stop, V8 allocates nothing, finishes no sweep and
 * goes on counting ~150 MB of heap as used that a heap snapshot shows is garbage; reading again
 * settles it, and memory truly in use starts a new episode at once.
 */
export const PLATEAU_SAMPLES = 5

/**
 * Fraction of the cap at which RSS itself, with the memory in use below high water (the rest is
 * heap V8 keeps free), makes the governor collect garbage, so that V8 shrinks its heap and RSS
 * follows (gradually, see `processMemory`): no episode, nothing shed. At most once per RSS_RECLAIM_EVERY_MS. Seen in
 * test/faults/capacity.fault.ts: RSS 266 MB over a cap of 260 with 91 of a 178 MB heap in use
 * (a forced cap), and once 365 over 320, the governor judging only ~180-230 MB in use.
 */
export const RSS_RECLAIM_FRACTION = 0.85
/** ...and with at least this fraction of the cap free heap (collecting less gives little back). */
export const RSS_RECLAIM_MIN_FREE_FRACTION = 0.1
export const RSS_RECLAIM_EVERY_MS = 1_000

/** What the governor sheds or refuses while overloaded, for the counters. */
export type ShedAction = 'qos0-dropped' | 'connect-refused' | 'read-paused'

export interface OverloadGovernorOptions {
  /** The process memory cap, bytes; 0 = off (never overloaded). */
  capBytes: number
  clock: Pick<Clock, 'setInterval' | 'clearInterval' | 'monotonicMs'>
  /** The process's memory now. */
  readMemory: () => MemorySample
  /**
   * Asks the runtime to collect garbage now (a full GC); called when an episode starts. Under
   * load V8 lets old space fill with garbage before a major GC, and once reads are paused little
   * allocation is left to trigger one: without it RSS could stay above the low-water mark with
   * nothing live in it.
   */
  reclaim?: () => void
  log: Logger
  /** Told of every change of state (the hub resumes paused connections on `false`). */
  onChange?: (active: boolean) => void
}

/**
 * The hub's memory overload protection, after EMQX's `overload_protection` (which backs off new
 * connections and work while the node is overloaded). Memory is sampled every SAMPLE_MS on the
 * clock; what counts is the memory in use: RSS less the free space V8 keeps in its heap (which it
 * fills again before RSS grows: after a burst RSS stays up with nothing in it, and judging RSS
 * alone would keep the hub overloaded with nothing to shed). At or above HIGH_WATER_FRACTION of
 * the cap the hub is overloaded until it falls below LOW_WATER_FRACTION (hysteresis, or a plateau
 * below high water, see PLATEAU_SAMPLES). While it is, the hub stops reading from connected clients (TCP flow control pushes back on publishers:
 * nothing read is nothing lost, QoS 1 included), refuses new connections with CONNACK 0x03 and
 * drops QoS 0 deliveries. Each episode is logged once when it starts and once when it ends, with
 * what it shed; everything is counted.
 */
export class OverloadGovernor {
  #active = false
  #timer: TimerHandle | undefined
  #episodes = 0
  #reclaims = 0
  /** Looks at memory prompted by reads (`noteRead`), and episodes they started. */
  #readChecks = 0
  #enteredOnRead = 0
  #activeMs = 0
  #episodeStartMs = 0
  #peakRssBytes = 0
  #lastInUseBytes = 0
  /** Lowest RSS of this episode and how many samples ago it was seen (plateau detection). */
  #episodeLowBytes = Infinity
  #samplesSinceLow = 0
  /** When RSS near the cap last made it collect free heap (`RSS_RECLAIM_FRACTION`). */
  #lastFreeHeapReclaimMs: number | undefined
  #reclaimedAtPlateau = false
  /** RSS is above the cap (logged once per crossing, with what the memory is). */
  #aboveCap = false
  /** Bytes read from clients since memory was last looked at (`noteRead`). */
  #readSinceLook = 0
  /**
   * An episode ended at a plateau still at high water: reads let V8 settle what it counts as in
   * use, so the next timer sample, not the first 256 KiB read, judges whether a new one starts.
   */
  #readEntryHeld = false
  readonly #shed: Record<ShedAction, number> = { 'qos0-dropped': 0, 'connect-refused': 0, 'read-paused': 0 }
  #episodeShed: Record<ShedAction, number> = { 'qos0-dropped': 0, 'connect-refused': 0, 'read-paused': 0 }

  constructor(private readonly opts: OverloadGovernorOptions) {}

  get enabled(): boolean { return this.opts.capBytes > 0 }
  get highWaterBytes(): number { return Math.round(this.opts.capBytes * HIGH_WATER_FRACTION) }
  get lowWaterBytes(): number { return Math.round(this.opts.capBytes * LOW_WATER_FRACTION) }

  /** True while overloaded: pause reads, refuse connects, drop QoS 0. */
  get active(): boolean { return this.#active }

  start(): void {
    if (!this.enabled || this.#timer) return
    this.sample()
    this.#timer = this.opts.clock.setInterval(() => this.sample(), SAMPLE_MS)
    this.#timer.unref()
  }

  stop(): void {
    this.opts.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Takes one sample and changes state if it crosses a mark. Called by the timer; public for tests. */
  sample(): void {
    if (!this.enabled) return
    this.#readEntryHeld = false
    const { memory, inUse } = this.#look()
    if (!this.#active && inUse >= this.highWaterBytes) return this.#enter(inUse)
    // RSS near the cap with free heap in it (which the memory in use does not count): collected,
    // at most once a second, overloaded or not. Not overloaded, the memory in use is below high
    // water, so the free heap is this much at least; overloaded, it must be (a CI run peaked at
    // 334 MB over a cap of 320 with 3 short episodes).
    const freeHeapNearCap = memory.rssBytes >= this.opts.capBytes * RSS_RECLAIM_FRACTION &&
      memory.heapFreeBytes >= this.opts.capBytes * RSS_RECLAIM_MIN_FREE_FRACTION
    if (freeHeapNearCap) this.#reclaimFreeHeap()
    if (!this.#active) return
    if (inUse < this.#episodeLowBytes) {
      this.#episodeLowBytes = inUse
      this.#samplesSinceLow = 0
      this.#reclaimedAtPlateau = false
    } else {
      this.#samplesSinceLow++
    }
    if (inUse < this.lowWaterBytes) return this.#leave(inUse, 'below low water')
    if (this.#samplesSinceLow < PLATEAU_SAMPLES) return
    if (inUse < this.highWaterBytes) return this.#leave(inUse, 'settled below high water')
    if (this.#reclaimedAtPlateau) return this.#leave(inUse, 'stopped falling after a collection')
    // Still at high water and no longer falling: with reads paused little is allocated, so V8
    // starts no collection of its own and the garbage of the burst stays counted. Collect it.
    this.#samplesSinceLow = 0
    this.#reclaimedAtPlateau = true
    this.#reclaims++
    this.opts.reclaim?.()
  }

  /**
   * Told of every chunk read from a client (the read gate). Every READ_CHECK_BYTES, memory is
   * looked at on the spot and an episode starts there if it is at high water, so the read gate
   * closes before the rest of this turn's reads (see READ_CHECK_BYTES). Only the start: the
   * timer's samples alone judge an episode's end, so its plateau count stays in time, and after
   * an episode that ended still at high water the next one is the timer's to start too.
   */
  noteRead(bytes: number): void {
    if (!this.enabled || this.#active || this.#readEntryHeld) return
    this.#readSinceLook += bytes
    if (this.#readSinceLook < READ_CHECK_BYTES) return
    this.#readChecks++
    const { inUse } = this.#look()
    if (inUse >= this.highWaterBytes) this.#enter(inUse, 'read')
  }

  /** Counts one thing shed or refused because of overload. */
  shed(action: ShedAction): void {
    this.#shed[action]++
    this.#episodeShed[action]++
  }

  get stats(): { episodes: number, episodesSeenOnRead: number, readChecks: number, reclaims: number, activeMs: number, inUseBytes: number, peakRssBytes: number, shed: Readonly<Record<ShedAction, number>> } {
    const ongoing = this.#active ? this.opts.clock.monotonicMs() - this.#episodeStartMs : 0
    return {
      episodes: this.#episodes, episodesSeenOnRead: this.#enteredOnRead, readChecks: this.#readChecks, reclaims: this.#reclaims,
      activeMs: this.#activeMs + ongoing, inUseBytes: this.#lastInUseBytes, peakRssBytes: this.#peakRssBytes, shed: { ...this.#shed },
    }
  }

  /** Reads the process's memory and keeps what the stats and the cap watch need. */
  #look(): { memory: MemorySample, inUse: number } {
    this.#readSinceLook = 0
    const memory = this.opts.readMemory()
    const inUse = memory.rssBytes - memory.heapFreeBytes
    this.#lastInUseBytes = inUse
    this.#peakRssBytes = Math.max(this.#peakRssBytes, memory.rssBytes)
    this.#watchCap(memory, inUse)
    return { memory, inUse }
  }

  /** Logs each time RSS goes over the cap, with what the memory was and whether overloaded (what a failed capacity run is read from). */
  #watchCap(memory: MemorySample, inUse: number): void {
    const above = memory.rssBytes > this.opts.capBytes
    if (above && !this.#aboveCap) {
      this.opts.log.warn({ rssMb: mb(memory.rssBytes), inUseMb: mb(inUse), heapFreeMb: mb(memory.heapFreeBytes), capMb: mb(this.opts.capBytes), overloaded: this.#active }, 'memory overload: RSS above the cap')
    }
    this.#aboveCap = above
  }

  /** RSS near the cap, mostly free heap: a full collection, after which V8 shrinks its heap. */
  #reclaimFreeHeap(): void {
    const now = this.opts.clock.monotonicMs()
    if (this.#lastFreeHeapReclaimMs !== undefined && now - this.#lastFreeHeapReclaimMs < RSS_RECLAIM_EVERY_MS) return
    this.#lastFreeHeapReclaimMs = now
    this.#reclaims++
    this.opts.reclaim?.()
  }

  #enter(inUse: number, seenBy: 'timer' | 'read' = 'timer'): void {
    this.#active = true
    this.#episodes++
    this.#episodeStartMs = this.opts.clock.monotonicMs()
    this.#episodeLowBytes = inUse
    this.#samplesSinceLow = 0
    this.#reclaimedAtPlateau = false
    this.#episodeShed = { 'qos0-dropped': 0, 'connect-refused': 0, 'read-paused': 0 }
    if (seenBy === 'read') this.#enteredOnRead++
    this.opts.log.warn({ inUseMb: mb(inUse), highWaterMb: mb(this.highWaterBytes), capMb: mb(this.opts.capBytes), seenBy }, 'memory overload: pausing client reads, refusing new connections, dropping QoS 0 deliveries')
    this.opts.onChange?.(true)
    this.#reclaims++
    this.#lastFreeHeapReclaimMs = this.opts.clock.monotonicMs()
    this.opts.reclaim?.()
  }

  #leave(inUse: number, why: string): void {
    this.#active = false
    this.#readEntryHeld = inUse >= this.highWaterBytes
    const durationMs = this.opts.clock.monotonicMs() - this.#episodeStartMs
    this.#activeMs += durationMs
    this.opts.log.warn({ inUseMb: mb(inUse), lowWaterMb: mb(this.lowWaterBytes), durationMs: Math.round(durationMs), why, shed: this.#episodeShed }, 'memory overload over: reading from clients again')
    this.opts.onChange?.(false)
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1_048_576)
}
