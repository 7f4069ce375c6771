import type { Clock, TimerHandle } from '../base/clock.js'
import type { Counters } from '../base/counters.js'
import type { Outbox } from '../outbox/outbox.js'
import type { HubLink } from '../hub/hub-link.js'

export interface OutboxDrainerOptions {
  device: string
  outbox: Outbox
  link: HubLink
  /** QoS 1 publishes in flight at once (default 256). */
  window?: number
  clock: Clock
  counters: Counters
}

/**
 * Publishes one device's outbox rows in row order at QoS 1, at most `window` in flight, and
 * deletes each row when its PUBACK arrives. After a lost connection it starts again from the
 * oldest unacknowledged row, so a message is published at least once and in order per device;
 * the (device, seq) in its payload lets hubs drop the repeats.
 */
export class OutboxDrainer {
  readonly #o: OutboxDrainerOptions
  readonly #window: number
  /** Highest row id handed to the current connection. */
  #cursor = 0
  #inflight = 0
  #generation = 0
  #flushTimer: TimerHandle | undefined

  constructor(opts: OutboxDrainerOptions) {
    this.#o = opts
    this.#window = opts.window ?? 256
  }

  get inflight(): number { return this.#inflight }

  /** New rows were stored, or the link came up: publish what fits into the window. */
  kick(): void {
    const { link, outbox, device } = this.#o
    if (!link.connected || this.#inflight > this.#window / 2) return
    const generation = this.#generation
    while (this.#inflight < this.#window && link.connected) {
      const asked = this.#window - this.#inflight
      const rows = outbox.pending(device, this.#cursor, asked)
      if (rows.length === 0) return
      for (const row of rows) {
        const sent = link.publish(row.topic, row.payload, { qos: 1, retain: row.retain }, (err) => {
          if (generation !== this.#generation) return
          this.#inflight--
          if (err) return // the connection went; reset() follows
          outbox.ack(row.id)
          this.#o.counters.add('published')
          this.#scheduleFlush()
          this.kick()
        })
        if (!sent) return
        this.#cursor = row.id
        this.#inflight++
      }
      if (rows.length < asked) return // that was all: asking again would find nothing
    }
  }

  /** The connection was lost: what was in flight is sent again on the next one. */
  reset(): void {
    this.#generation++
    this.#inflight = 0
    this.#cursor = 0
    this.#o.clock.clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    this.#o.outbox.flushAcks()
  }

  stop(): void {
    this.reset()
  }

  /** Deletes acknowledged rows in one transaction per short interval (group commit). */
  #scheduleFlush(): void {
    if (this.#o.outbox.pendingAcks >= 512) {
      this.#o.outbox.flushAcks()
      return
    }
    if (this.#flushTimer) return
    this.#flushTimer = this.#o.clock.setTimeout(() => {
      this.#flushTimer = undefined
      this.#o.outbox.flushAcks()
    }, 5)
  }
}
