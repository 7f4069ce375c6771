import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../base/clock.js'
import type { Rng } from '../base/rng.js'
import { backoffDelayMs, type BackoffOptions } from '../base/backoff.js'

export interface Will {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
}

export interface HubLinkOptions {
  /** Hubs in order of preference: mqtt://, mqtts://, ws:// or wss:// URLs. */
  urls: readonly string[]
  clientId: string
  username?: string
  password?: string
  /** Clean session (default true). A persistent session keeps queued QoS 1 messages at the hub. */
  clean?: boolean
  will?: Will
  /** Filters subscribed again after every (re)connect, before `onConnected` runs. */
  subscriptions?: ReadonlyArray<{ filter: string, qos: 0 | 1 | 2 }>
  /** MQTT keep-alive in seconds (default 15): a silent hub is given up after 1.5× this. */
  keepaliveS?: number
  /** How long one connect attempt may take, in ms (default 5000). */
  connectTimeoutMs?: number
  /** Delay between attempts (default 250 ms doubling to 15 s, equal jitter). */
  backoff?: BackoffOptions
  /** TLS options for mqtts:// and wss:// (CA bundle, client certificate). */
  tls?: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>
  clock: Clock
  rng: Rng
  log: Logger
  /** Index of the first hub to try (default 0): spreads a fleet over the hubs. */
  startIndex?: number
  onConnected?: (url: string) => void
  onDisconnected?: (url: string, reason: string) => void
  onMessage?: (topic: string, payload: Buffer) => void
  /** mqtt.connect; tests may wrap it. */
  connect?: (url: string, opts: IClientOptions) => MqttClient
}

export type PublishCallback = (err?: Error) => void

/**
 * One MQTT session at a time with a list of hubs (docs/agent.md "Hub failover"): connect to the
 * current hub; when the connection fails or is lost, wait a jittered exponential backoff and try
 * the next hub in the list, round robin; after every connect, subscribe again. There is no
 * failback: the link stays on a working hub. Each attempt uses a fresh mqtt.js client with its
 * own reconnect turned off, so no stale in-flight state crosses hubs: whoever publishes through
 * the link re-sends what was not acknowledged (the outbox does).
 */
export class HubLink {
  readonly #opts: HubLinkOptions
  #index: number
  #failures = 0
  #generation = 0
  #client: MqttClient | undefined
  #connected = false
  #timer: TimerHandle | undefined
  #stopped = true
  #connects = 0

  constructor(opts: HubLinkOptions) {
    if (opts.urls.length === 0) throw new Error('HubLink needs at least one hub URL')
    this.#opts = opts
    this.#index = (opts.startIndex ?? 0) % opts.urls.length
  }

  get connected(): boolean { return this.#connected }
  /** The hub in use (or being tried). */
  get url(): string { return this.#opts.urls[this.#index] as string }
  /** Successful connects so far; every one after the first is a reconnect. */
  get connects(): number { return this.#connects }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#attempt()
  }

  /**
   * Publishes on the current connection. Returns false (and does not call `cb`) when there is
   * none; otherwise `cb` runs on PUBACK (QoS 1) or with an error when the connection goes first.
   * (A retained message published back to back with others reaches live subscribers: the hub
   * numbers messages when it delivers them, in order; docs/agent.md "Retained messages".)
   */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1 | 2, retain?: boolean }, cb?: PublishCallback): boolean {
    if (!this.#connected || !this.#client) return false
    const generation = this.#generation
    this.#client.publish(topic, payload, { qos: opts.qos, retain: opts.retain ?? false }, (err) => {
      if (generation !== this.#generation) return cb?.(new Error('connection replaced'))
      cb?.(err ?? undefined)
    })
    return true
  }

  /** Cuts the current connection abruptly, as a dying network would (the will fires). */
  dropConnection(): void {
    this.#client?.stream.destroy()
  }

  /** Ends the session: DISCONNECT (no will) after what `beforeDisconnect` publishes is acked. */
  async stop(beforeDisconnect?: () => Promise<void>): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#opts.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    const client = this.#client
    if (this.#connected && beforeDisconnect) {
      try { await beforeDisconnect() } catch { /* best effort on the way out */ }
    }
    this.#generation++
    this.#connected = false
    this.#client = undefined
    if (client) await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()))
  }

  #attempt(): void {
    if (this.#stopped) return
    const o = this.#opts
    const url = this.url
    const generation = ++this.#generation
    const connect = o.connect ?? mqtt.connect
    const client = connect(url, {
      clientId: o.clientId,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      clean: o.clean ?? true,
      protocolVersion: 4,
      keepalive: o.keepaliveS ?? 15,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      ...(o.will ? { will: { ...o.will } } : {}),
      ...o.tls,
    })
    this.#client = client
    let up = false
    let gone = false
    const lost = (reason: string): void => {
      if (gone || generation !== this.#generation) return
      gone = true
      const wasUp = up
      this.#connected = false
      this.#client = undefined
      this.#generation++
      client.end(true)
      if (wasUp) {
        o.log.warn({ hub: url, reason }, 'hub connection lost')
        o.onDisconnected?.(url, reason)
      } else if (/refused|not authorized/i.test(reason)) {
        o.log.warn({ hub: url, reason }, 'hub refused the connection') // misconfigured: say so
      } else {
        o.log.debug({ hub: url, reason }, 'hub connect failed')
      }
      this.#scheduleNext()
    }
    client.on('error', (err) => {
      // Refused CONNACKs, DNS and socket errors; 'close' follows (reconnect is off).
      o.log.debug({ hub: url, err: err.message }, 'hub connection error')
      if (!client.connected) lost(err.message)
    })
    client.on('close', () => lost('closed'))
    client.on('message', (topic, payload) => {
      if (generation === this.#generation) o.onMessage?.(topic, payload)
    })
    client.on('connect', () => {
      const subs = o.subscriptions ?? []
      const ready = (): void => {
        if (generation !== this.#generation || gone) return
        up = true
        this.#connected = true
        this.#failures = 0
        this.#connects++
        o.log.info({ hub: url, reconnect: this.#connects > 1 }, 'hub connected')
        o.onConnected?.(url)
      }
      if (subs.length === 0) return ready()
      client.subscribe(Object.fromEntries(subs.map((s) => [s.filter, { qos: s.qos }])), (err, granted) => {
        if (err) o.log.error({ hub: url, err: err.message }, 'subscribe refused')
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic)
        if (refused.length > 0) o.log.error({ hub: url, refused }, 'subscribe refused by the hub (ACL?)')
        ready()
      })
    })
  }

  #scheduleNext(): void {
    if (this.#stopped) return
    const o = this.#opts
    const delayMs = backoffDelayMs(this.#failures++, o.backoff ?? { initialMs: 250, maxMs: 15_000 }, o.rng)
    this.#index = (this.#index + 1) % o.urls.length
    this.#timer = o.clock.setTimeout(() => {
      this.#timer = undefined
      this.#attempt()
    }, delayMs)
  }
}
