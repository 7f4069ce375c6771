import type { Logger } from 'pino'
import type { IClientOptions, MqttClient } from 'mqtt'
import type { Clock, TimerHandle } from './base/clock.js'
import type { Rng } from './base/rng.js'
import type { BackoffOptions } from './base/backoff.js'
import { Outbox, type OutboxStats } from './outbox/outbox.js'
import { DeviceBridge, type PortConfig } from './bridge/device-bridge.js'
import type { SerialOpener } from './serial/serial-link.js'
import type { PortLister } from './serial/usb-identity.js'
import type { HubLinkOptions } from './hub/hub-link.js'

export interface AgentOptions {
  hubs: readonly string[]
  ports: readonly PortConfig[]
  /** The outbox SQLite file. */
  outboxPath: string
  maxOutboxMessages?: number
  maxOutboxBytes?: number
  /** How often a stats line is logged, in ms (default 60 000; 0 = never). */
  statsIntervalMs?: number
  keepaliveS?: number
  hubBackoff?: BackoffOptions
  serialBackoff?: BackoffOptions
  tls?: HubLinkOptions['tls']
  opener: SerialOpener
  lister: PortLister
  clock: Clock
  rng: Rng
  log: Logger
  connect?: (url: string, opts: IClientOptions) => MqttClient
}

export interface AgentStats {
  outbox: OutboxStats
  devices: Record<string, { serialOpen: boolean, hubConnected: boolean, hub: string, counters: Record<string, number> }>
  rssBytes: number
}

/** The device agent: one outbox, one bridge per serial port (docs/agent.md). */
export class Agent {
  readonly outbox: Outbox
  readonly bridges: DeviceBridge[]
  readonly #o: AgentOptions
  #statsTimer: TimerHandle | undefined

  private constructor(opts: AgentOptions) {
    this.#o = opts
    this.outbox = new Outbox({
      path: opts.outboxPath,
      ...(opts.maxOutboxMessages !== undefined ? { maxMessages: opts.maxOutboxMessages } : {}),
      ...(opts.maxOutboxBytes !== undefined ? { maxBytes: opts.maxOutboxBytes } : {}),
    })
    this.bridges = opts.ports.map((port) => new DeviceBridge({
      port, hubs: opts.hubs, outbox: this.outbox, opener: opts.opener, lister: opts.lister,
      clock: opts.clock, rng: opts.rng, log: opts.log,
      ...(opts.keepaliveS !== undefined ? { keepaliveS: opts.keepaliveS } : {}),
      ...(opts.hubBackoff ? { hubBackoff: opts.hubBackoff } : {}),
      ...(opts.serialBackoff ? { serialBackoff: opts.serialBackoff } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.connect ? { connect: opts.connect } : {}),
    }))
  }

  static start(opts: AgentOptions): Agent {
    const agent = new Agent(opts)
    const { queued, dropped } = agent.outbox.stats()
    opts.log.info({ hubs: opts.hubs, devices: opts.ports.map((p) => p.device), outbox: opts.outboxPath, queued, dropped }, 'agent started')
    for (const bridge of agent.bridges) bridge.start()
    const every = opts.statsIntervalMs ?? 60_000
    if (every > 0) {
      agent.#statsTimer = opts.clock.setInterval(() => opts.log.info(agent.stats(), 'agent stats'), every)
      agent.#statsTimer.unref()
    }
    return agent
  }

  stats(): AgentStats {
    return {
      outbox: this.outbox.stats(),
      devices: Object.fromEntries(this.bridges.map((b) => [b.device, {
        serialOpen: b.serial.isOpen, hubConnected: b.link.connected, hub: b.link.url, counters: b.counters.snapshot(),
      }])),
      rssBytes: process.memoryUsage.rss(),
    }
  }

  async stop(): Promise<void> {
    this.#o.clock.clearInterval(this.#statsTimer)
    await Promise.all(this.bridges.map((b) => b.stop()))
    this.#o.log.info(this.stats(), 'agent stopped')
    this.outbox.close()
  }
}
