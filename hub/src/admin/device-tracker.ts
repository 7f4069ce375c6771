import type { Clock } from '../base/clock.js'

/** Window of the per-device message rate, ms (the contract's "msgs/s over the last 10 s"). */
export const RATE_WINDOW_MS = 10_000
/** Disconnected devices remembered per hub; the oldest are forgotten beyond this. */
export const MAX_OFFLINE_DEVICES = 10_000

/** One hub's record of one device (its client id), as a peer sends it. */
export interface LocalDevice {
  id: string
  online: boolean
  lastSeenMs: number
  msgsPerS: number
  /** Last time this record changed (connect, disconnect, a publish), for the `devices` channel. */
  changedMs: number
}

interface Entry {
  online: boolean
  /** Connections open under this id (a takeover opens the new one before the old one closes). */
  connections: number
  lastSeenMs: number
  changedMs: number
  /** Publishes per second of the last RATE_WINDOW_MS, a ring of one-second buckets. */
  buckets: number[]
  bucketSecond: number
}

const BUCKETS = RATE_WINDOW_MS / 1000

/**
 * The MQTT clients of this hub, connected and recently disconnected (bounded), from aedes'
 * client / clientDisconnect / publish events. Each hub knows only its own clients; the admin API
 * merges every hub's list (devices-service.ts).
 */
export class DeviceTracker {
  /** Insertion order is recency order: a touched entry moves to the end. */
  readonly #devices = new Map<string, Entry>()
  #offline = 0

  constructor(private readonly clock: Clock) {}

  connected(id: string): void {
    const e = this.#touch(id)
    e.connections++
    if (!e.online) { e.online = true; this.#offline-- }
  }

  disconnected(id: string): void {
    const e = this.#devices.get(id)
    if (!e) return
    this.#touch(id)
    e.connections = Math.max(0, e.connections - 1)
    if (e.connections === 0 && e.online) {
      e.online = false
      this.#offline++
      this.#evict()
    }
  }

  published(id: string): void {
    const e = this.#devices.get(id)
    if (!e) return
    this.#touch(id)
    const second = Math.floor(this.clock.now() / 1000)
    this.#advance(e, second)
    e.buckets[second % BUCKETS] = (e.buckets[second % BUCKETS] ?? 0) + 1
  }

  /** Devices whose id contains `search` (case-insensitive), at most `limit`, most recent first. */
  list(search: string, limit: number, changedSinceMs = 0): LocalDevice[] {
    const needle = search.toLowerCase()
    const out: LocalDevice[] = []
    const second = Math.floor(this.clock.now() / 1000)
    const entries = [...this.#devices].reverse()
    for (const [id, e] of entries) {
      if (out.length >= limit) break
      // Recency order is change order: everything further back changed earlier still.
      if (e.changedMs < changedSinceMs) break
      if (needle !== '' && !id.toLowerCase().includes(needle)) continue
      this.#advance(e, second)
      const count = e.buckets.reduce((a, b) => a + b, 0)
      out.push({ id, online: e.online, lastSeenMs: e.lastSeenMs, msgsPerS: count / BUCKETS, changedMs: e.changedMs })
    }
    return out
  }

  get size(): number { return this.#devices.size }

  #touch(id: string): Entry {
    const now = this.clock.now()
    let e = this.#devices.get(id)
    if (e) {
      this.#devices.delete(id)
    } else {
      e = { online: false, connections: 0, lastSeenMs: now, changedMs: now, buckets: new Array<number>(BUCKETS).fill(0), bucketSecond: Math.floor(now / 1000) }
      this.#offline++
    }
    e.lastSeenMs = now
    e.changedMs = now
    this.#devices.set(id, e)
    return e
  }

  /** Clears the buckets of the seconds that passed since the entry was last counted. */
  #advance(e: Entry, second: number): void {
    const gap = Math.min(BUCKETS, second - e.bucketSecond)
    for (let i = 1; i <= gap; i++) e.buckets[(e.bucketSecond + i) % BUCKETS] = 0
    if (second > e.bucketSecond) e.bucketSecond = second
  }

  #evict(): void {
    if (this.#offline <= MAX_OFFLINE_DEVICES) return
    for (const [id, e] of this.#devices) {
      if (this.#offline <= MAX_OFFLINE_DEVICES) return
      if (e.online) continue
      this.#devices.delete(id)
      this.#offline--
    }
  }
}
