import type { Logger } from 'pino'
import type { Clock } from '../../../device-agent/dist/base/clock.js'
import type { Rng } from '../../../device-agent/dist/base/rng.js'
import { HubLink } from '../../../device-agent/dist/hub/hub-link.js'

export interface SimDeviceOptions {
  name: string
  hubs: readonly string[]
  startIndex: number
  qos: 0 | 1
  /** Persistent session (clean = false) so commands queue while the device is away. */
  persistent: boolean
  password?: string
  /** Unacknowledged messages kept for re-sending; past it the oldest are given up and counted. */
  maxUnacked: number
  clock: Clock
  rng: Rng
  log: Logger
  onConnected: (device: SimDevice) => void
}

interface Outgoing { topic: string, payload: Buffer }

/**
 * One simulated MQTT device: telemetry with (device, seq) in every payload, re-sent after a
 * reconnect until acknowledged (at least once), answers to `ping` commands, failover across the
 * hubs through the agent's HubLink (backoff, jitter, resubscribe).
 */
export class SimDevice {
  readonly name: string
  readonly link: HubLink
  /** Last seq handed out; seqs 1..seq have been produced. */
  seq = 0
  sent = 0
  acked = 0
  /** Seqs dropped from a full re-send buffer before any hub acknowledged them. */
  readonly givenUp = new Set<number>()
  readonly #o: SimDeviceOptions
  /** Produced and not yet acknowledged, in seq order (Map keeps insertion order). */
  readonly unacked = new Map<number, Outgoing>()
  readonly #inflight = new Set<number>()

  constructor(opts: SimDeviceOptions) {
    this.#o = opts
    this.name = opts.name
    const cmdPrefix = `devices/${opts.name}/cmd/`
    this.link = new HubLink({
      urls: opts.hubs, startIndex: opts.startIndex, clientId: opts.name,
      // Anonymous without a password (hubs with --allow-anonymous); else user = device name.
      ...(opts.password !== undefined ? { username: opts.name, password: opts.password } : {}),
      clean: !opts.persistent, keepaliveS: 30, connectTimeoutMs: 10_000,
      backoff: { initialMs: 500, maxMs: 10_000 },
      subscriptions: [{ filter: `${cmdPrefix}+`, qos: 1 }],
      clock: opts.clock, rng: opts.rng, log: opts.log,
      onConnected: () => {
        this.#inflight.clear()
        for (const seq of this.unacked.keys()) this.#send(seq)
        opts.onConnected(this)
      },
      onMessage: (topic, payload) => {
        if (!topic.startsWith(cmdPrefix)) return
        this.#answer(topic.slice(cmdPrefix.length), payload)
      },
    })
  }

  get connected(): boolean { return this.link.connected }

  /** Produces the next reading and publishes it if connected (else it waits for the connection). */
  produce(nowMs: number, value: number): void {
    const seq = ++this.seq
    const payload = Buffer.from(JSON.stringify({ device: this.name, seq, ts: nowMs, value }))
    const topic = `devices/${this.name}/telemetry/temp`
    if (this.#o.qos === 0) {
      if (this.link.publish(topic, payload, { qos: 0 })) this.sent++
      return
    }
    this.unacked.set(seq, { topic, payload })
    if (this.unacked.size > this.#o.maxUnacked) {
      const oldest = this.unacked.keys().next().value as number
      this.unacked.delete(oldest)
      this.givenUp.add(oldest)
    }
    this.#send(seq)
  }

  #send(seq: number): void {
    const msg = this.unacked.get(seq)
    if (!msg || this.#inflight.has(seq)) return
    const sent = this.link.publish(msg.topic, msg.payload, { qos: 1 }, (err) => {
      this.#inflight.delete(seq)
      if (err || !this.unacked.delete(seq)) return
      this.acked++
    })
    if (sent) {
      this.#inflight.add(seq)
      this.sent++
    }
  }

  #answer(name: string, payload: Buffer): void {
    let id: unknown = null
    try { id = (JSON.parse(payload.toString()) as { id?: unknown }).id ?? null } catch { /* answered with id null */ }
    const body = name === 'ping'
      ? { id, ok: true, value: { pong: true } }
      : { id, ok: false, error: { code: 'unknown-command', message: `unknown command "${name}"` } }
    this.link.publish(`devices/${this.name}/cmd/${name}/res`, JSON.stringify({ device: this.name, ts: this.#o.clock.now(), ...body }), { qos: 1 })
  }
}
