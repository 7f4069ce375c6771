import type { Aedes } from 'aedes'
import type { Metric } from 'prom-client'
import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'

/**
 * Mosquitto-style `$SYS/broker/...` topics, published retained every `intervalMs`, so tools that
 * know Mosquitto's (MQTT Explorer, mosquitto_sub -t '$SYS/#') show the hub's vital signs.
 * `#` does not match them [MQTT-4.7.2-1]; subscribe to `$SYS/#`.
 */
export class SysTopics {
  #timer: TimerHandle | undefined
  readonly #startedMs: number
  #maxConnected = 0

  constructor(private readonly deps: {
    broker: Aedes
    clock: Clock
    log: Logger
    metrics: HubMetrics
    version: string
    intervalMs: number
    /** Offline subscriptions and retained messages held by the store. */
    storeCounts: () => Promise<{ subscriptions: number, retained: number }>
  }) {
    this.#startedMs = deps.clock.monotonicMs()
  }

  start(): void {
    this.#publish('$SYS/broker/version', this.deps.version)
    if (this.deps.intervalMs <= 0) return
    void this.publishNow()
    this.#timer = this.deps.clock.setInterval(() => { void this.publishNow() }, this.deps.intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    this.deps.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Publishes the current values once. */
  async publishNow(): Promise<void> {
    const { broker, metrics, clock } = this.deps
    try {
      const connected = broker.connectedClients
      this.#maxConnected = Math.max(this.#maxConnected, connected)
      const counts = await this.deps.storeCounts()
      const values: Array<[string, string | number]> = [
        ['uptime', `${Math.floor((clock.monotonicMs() - this.#startedMs) / 1000)} seconds`],
        ['clients/connected', connected],
        ['clients/maximum', this.#maxConnected],
        ['messages/received', metrics.traffic.messagesIn.reduce((a, b) => a + b, 0)],
        ['messages/sent', metrics.traffic.messagesOut],
        ['publish/messages/dropped', await total(metrics.drops)],
        ['bytes/received', metrics.traffic.bytesIn],
        ['bytes/sent', metrics.traffic.bytesOut],
        ['subscriptions/count', counts.subscriptions],
        ['retained messages/count', counts.retained],
      ]
      for (const [name, value] of values) this.#publish(`$SYS/broker/${name}`, String(value))
    } catch (err) {
      this.deps.log.warn({ err }, '$SYS update failed')
    }
  }

  #publish(topic: string, payload: string): void {
    this.deps.broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: true, dup: false }, () => {})
  }
}

async function total(metric: Metric): Promise<number> {
  const { values } = await metric.get()
  return values.reduce((sum, v) => sum + v.value, 0)
}
