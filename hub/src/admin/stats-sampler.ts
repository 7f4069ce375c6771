import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { HubStatsPoint } from '../contract/admin-api.js'
import type { AdminHistory } from '../store/admin-history.js'
import { isStoreFailure } from '../store/store-failure.js'

export const SAMPLE_INTERVAL_MS = 1_000
export const ROLLUP_INTERVAL_MS = 60_000
/** 1 s points kept in memory: 15 minutes (the UI's live charts). */
export const LIVE_POINTS = 15 * 60

/** Running totals (counters) and current values (gauges) read from the hub's parts. */
export interface StatsReading {
  connections: number
  msgsIn: number
  msgsOut: number
  interHubBytesIn: number
  interHubBytesOut: number
  drops: number
  storeLagMs: number
}

/**
 * Takes one `HubStatsPoint` per second from the hub's counters (rates are differences of running
 * totals), keeps the last 15 minutes in memory, and rolls them up into 1-minute points in SQLite
 * (the current minute is rewritten on every sample, so a crash loses at most a second of it and
 * a restart shows the history). Older history comes from the rollups.
 */
export class StatsSampler {
  readonly #live: HubStatsPoint[] = []
  readonly #listeners: Array<(point: HubStatsPoint) => void> = []
  #timer: TimerHandle | undefined
  #last: { reading: StatsReading, atMs: number } | undefined
  #minute: { tsMs: number, points: HubStatsPoint[] } | undefined
  #busy = false
  /** The minute whose stored rollup this run took over from an earlier run, if any. */
  #carriedMinuteMs: number | undefined

  constructor(private readonly deps: { hub: string, clock: Clock, read: () => Promise<StatsReading>, history: AdminHistory, log: Logger }) {}

  start(): void {
    void this.#sample()
    this.#timer = this.deps.clock.setInterval(() => { void this.#sample() }, SAMPLE_INTERVAL_MS)
    this.#timer.unref()
  }

  stop(): void {
    this.deps.clock.clearInterval(this.#timer)
  }

  onPoint(listener: (point: HubStatsPoint) => void): void { this.#listeners.push(listener) }

  latest(): HubStatsPoint | undefined { return this.#live.at(-1) }

  /**
   * Points from `sinceMs` on, oldest first: stored 1-minute rollups for the time before the live
   * 1 s points, then the live points.
   */
  points(sinceMs: number): HubStatsPoint[] {
    const live = this.#live.filter((p) => p.tsMs >= sinceMs)
    const firstLiveMs = this.#live[0]?.tsMs ?? Number.POSITIVE_INFINITY
    const rollups = this.deps.history.rollupsSince(sinceMs - ROLLUP_INTERVAL_MS + 1)
      // Rollups before the live points; also the minute they start in when it holds an earlier
      // run's figures (a restart mid-minute): intervalMs tells the two kinds apart.
      .filter((r) => r.tsMs + r.intervalMs <= firstLiveMs || r.tsMs === this.#carriedMinuteMs)
      .map((r) => ({ hub: this.deps.hub, ...r }))
    return [...rollups, ...live]
  }

  async #sample(): Promise<void> {
    if (this.#busy) return // the previous reading is still being taken (a very busy event loop)
    this.#busy = true
    try {
      const reading = await this.deps.read()
      const atMs = this.deps.clock.now()
      const last = this.#last
      this.#last = { reading, atMs }
      if (!last) return
      const seconds = Math.max(0.001, (atMs - last.atMs) / 1000)
      const rate = (key: keyof StatsReading): number => round(Math.max(0, reading[key] - last.reading[key]) / seconds)
      const point: HubStatsPoint = {
        hub: this.deps.hub, tsMs: last.atMs, intervalMs: atMs - last.atMs,
        connections: reading.connections, msgsInPerS: rate('msgsIn'), msgsOutPerS: rate('msgsOut'),
        interHubBytesInPerS: rate('interHubBytesIn'), interHubBytesOutPerS: rate('interHubBytesOut'),
        drops: Math.max(0, reading.drops - last.reading.drops), storeLagMs: Math.round(reading.storeLagMs),
      }
      this.#live.push(point)
      if (this.#live.length > LIVE_POINTS) this.#live.shift()
      for (const listener of this.#listeners) listener(point)
      await this.#rollUp(point, atMs)
    } catch (err) {
      this.deps.log[isStoreFailure(err) ? 'debug' : 'warn']({ err }, 'taking a stats point failed')
    } finally {
      this.#busy = false
    }
  }

  async #rollUp(point: HubStatsPoint, nowMs: number): Promise<void> {
    const minuteMs = Math.floor(point.tsMs / ROLLUP_INTERVAL_MS) * ROLLUP_INTERVAL_MS
    if (this.#minute?.tsMs !== minuteMs) {
      // A restart within the minute: what the earlier run stored counts as one point of it.
      const stored = this.deps.history.rollupsSince(minuteMs).find((r) => r.tsMs === minuteMs)
      this.#minute = { tsMs: minuteMs, points: stored ? [{ hub: this.deps.hub, ...stored }] : [] }
      if (stored && this.#live.length <= 1) this.#carriedMinuteMs = minuteMs
    }
    const points = this.#minute.points
    points.push(point)
    const mean = (key: 'msgsInPerS' | 'msgsOutPerS' | 'interHubBytesInPerS' | 'interHubBytesOutPerS'): number => round(points.reduce((s, p) => s + p[key], 0) / points.length)
    await this.deps.history.putRollup({
      tsMs: minuteMs, intervalMs: ROLLUP_INTERVAL_MS,
      connections: point.connections,
      msgsInPerS: mean('msgsInPerS'), msgsOutPerS: mean('msgsOutPerS'),
      interHubBytesInPerS: mean('interHubBytesInPerS'), interHubBytesOutPerS: mean('interHubBytesOutPerS'),
      drops: points.reduce((s, p) => s + p.drops, 0),
      storeLagMs: Math.max(...points.map((p) => p.storeLagMs)),
    }, nowMs)
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
