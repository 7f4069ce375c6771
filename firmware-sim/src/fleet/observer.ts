import type { Logger } from 'pino'
import type { Clock } from '../../../device-agent/dist/base/clock.js'
import type { Rng } from '../../../device-agent/dist/base/rng.js'
import { HubLink } from '../../../device-agent/dist/hub/hub-link.js'
import { SeqTracker } from './seq-tracker.js'

export interface ObserverOptions {
  hubs: readonly string[]
  /** Distinguishes this run's sessions from another's. */
  runId: string
  username?: string
  password?: string
  clock: Clock
  rng: Rng
  log: Logger
}

/**
 * The end-to-end witness: one persistent-session subscriber per hub on `devices/+/telemetry/#`
 * and `devices/+/cmd/+/res`. A message counts as received when any hub delivered it; a duplicate
 * is a (device, seq) that one hub delivered twice (what a single subscriber would see twice).
 */
export class Observer {
  readonly links: HubLink[]
  /** Per hub index, per device. */
  readonly #trackers: Array<Map<string, SeqTracker>>
  readonly #latencies: number[] = []
  readonly #o: ObserverOptions
  received = 0
  malformed = 0
  readonly responses = new Map<string, number>()

  constructor(opts: ObserverOptions) {
    this.#o = opts
    this.#trackers = opts.hubs.map(() => new Map())
    this.links = opts.hubs.map((url, i) => new HubLink({
      urls: [url], clientId: `ringhub-sim-observer-${opts.runId}-${i}`, clean: false,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      subscriptions: [{ filter: 'devices/+/telemetry/#', qos: 1 }, { filter: 'devices/+/cmd/+/res', qos: 1 }],
      keepaliveS: 30, backoff: { initialMs: 250, maxMs: 2_000 },
      clock: opts.clock, rng: opts.rng, log: opts.log,
      onMessage: (topic, payload) => this.#message(i, topic, payload),
    }))
  }

  start(): void { for (const l of this.links) l.start() }
  async stop(): Promise<void> { await Promise.all(this.links.map((l) => l.stop())) }
  get connected(): number { return this.links.filter((l) => l.connected).length }

  /** Whether any hub delivered (device, seq). */
  has(device: string, seq: number): boolean {
    return this.#trackers.some((t) => t.get(device)?.has(seq) === true)
  }

  get duplicates(): number {
    let n = 0
    for (const t of this.#trackers) for (const s of t.values()) n += s.duplicates
    return n
  }

  /** Latency percentiles (publish ts → observer), ms. */
  latency(): { p50: number, p99: number, max: number } {
    const sorted = [...this.#latencies].sort((a, b) => a - b)
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 }
  }

  #message(hub: number, topic: string, payload: Buffer): void {
    let body: { device?: unknown, seq?: unknown, ts?: unknown, id?: unknown }
    try {
      body = JSON.parse(payload.toString()) as typeof body
    } catch {
      this.malformed++
      return
    }
    if (topic.endsWith('/res')) {
      if (typeof body.id === 'string') this.responses.set(body.id, this.#o.clock.now())
      return
    }
    if (typeof body.device !== 'string' || typeof body.seq !== 'number') {
      this.malformed++
      return
    }
    const trackers = this.#trackers[hub] as Map<string, SeqTracker>
    let t = trackers.get(body.device)
    if (!t) trackers.set(body.device, t = new SeqTracker())
    const firstAnywhere = !this.has(body.device, body.seq)
    t.see(body.seq)
    if (firstAnywhere) {
      this.received++
      // Keep a bounded sample of latencies (every message up to 200k, then every 16th).
      if (typeof body.ts === 'number' && (this.#latencies.length < 200_000 || this.received % 16 === 0)) {
        this.#latencies.push(this.#o.clock.now() - body.ts)
      }
    }
  }
}
