import type { Logger } from 'pino'
import type { IClientOptions, MqttClient } from 'mqtt'
import type { Clock } from '../base/clock.js'
import type { Rng } from '../base/rng.js'
import type { BackoffOptions } from '../base/backoff.js'
import { Counters } from '../base/counters.js'
import type { Outbox } from '../outbox/outbox.js'
import { HubLink, type HubLinkOptions } from '../hub/hub-link.js'
import { SerialLink, type SerialOpener } from '../serial/serial-link.js'
import type { PortLister, UsbIdentity } from '../serial/usb-identity.js'
import { CommandTable, type CommandResult } from './commands.js'
import { FrameReader } from './frame-reader.js'
import { OutboxDrainer } from './outbox-drainer.js'
import { OFFLINE, ONLINE, deviceTopics, envelope, frameMessages } from './messages.js'

/** One serial port and the device on it (docs/agent.md). */
export interface PortConfig {
  path?: string
  usb?: UsbIdentity
  /** Baud rate (default 115200). */
  baud: number
  /** Device id: topics `devices/<id>/...`, MQTT user name unless `username` is set. */
  device: string
  username?: string
  password?: string
  /** Longest frame in bytes (default 1024). */
  maxFrameBytes: number
  /** Drop a partial line after this much silence, in ms (default 500). */
  partialTimeoutMs: number
  /** Time a device has to answer a command, in ms (default 5000). */
  commandTimeoutMs: number
}

export interface DeviceBridgeOptions {
  port: PortConfig
  hubs: readonly string[]
  outbox: Outbox
  opener: SerialOpener
  lister: PortLister
  clock: Clock
  rng: Rng
  log: Logger
  keepaliveS?: number
  hubBackoff?: BackoffOptions
  serialBackoff?: BackoffOptions
  tls?: HubLinkOptions['tls']
  connect?: (url: string, opts: IClientOptions) => MqttClient
}

/**
 * Serial port ↔ hub for one device: frames go into the outbox and from there to the hub; the
 * device's commands come down from `devices/<id>/cmd/+`; `devices/<id>/status` says whether the
 * device is reachable (will `offline` for a lost agent, `offline` on serial loss).
 */
export class DeviceBridge {
  readonly device: string
  readonly counters = new Counters()
  readonly serial: SerialLink
  readonly link: HubLink
  readonly #o: DeviceBridgeOptions
  readonly #reader: FrameReader
  readonly #drainer: OutboxDrainer
  readonly #commands: CommandTable
  readonly #topics: ReturnType<typeof deviceTopics>

  constructor(opts: DeviceBridgeOptions) {
    this.#o = opts
    const { port, clock, rng } = opts
    const device = this.device = port.device
    const log = opts.log.child({ device })
    this.#topics = deviceTopics(device)
    this.#reader = new FrameReader({
      device, maxFrameBytes: port.maxFrameBytes, partialTimeoutMs: port.partialTimeoutMs, clock, counters: this.counters, log,
      onFrame: (frame) => {
        if (frame.type === 'response') return this.#commands.answer(frame)
        const stored = opts.outbox.append(frameMessages(frame, device, clock.now()))
        this.counters.add('stored', stored.length)
        this.#drainer.kick()
      },
    })
    this.link = new HubLink({
      urls: opts.hubs, clientId: `${device}:agent`,
      // Without a password the agent connects anonymously (hubs run with --allow-anonymous).
      ...(port.password !== undefined || port.username !== undefined ? { username: port.username ?? device } : {}),
      ...(port.password !== undefined ? { password: port.password } : {}),
      will: { topic: this.#topics.status, payload: OFFLINE, qos: 1, retain: true },
      subscriptions: [{ filter: this.#topics.commands, qos: 1 }],
      ...(opts.keepaliveS !== undefined ? { keepaliveS: opts.keepaliveS } : {}),
      ...(opts.hubBackoff ? { backoff: opts.hubBackoff } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.connect ? { connect: opts.connect } : {}),
      clock, rng, log,
      onConnected: () => {
        this.counters.add('hub_connects')
        this.#publishStatus()
        this.#drainer.kick()
      },
      onDisconnected: () => this.#drainer.reset(),
      onMessage: (topic, payload) => {
        if (topic.startsWith(this.#topics.commandPrefix)) this.#commands.handle(topic.slice(this.#topics.commandPrefix.length), payload)
      },
    })
    this.#drainer = new OutboxDrainer({ device, outbox: opts.outbox, link: this.link, clock, counters: this.counters })
    this.serial = new SerialLink({
      ...(port.path !== undefined ? { path: port.path } : {}),
      ...(port.usb ? { usb: port.usb } : {}),
      baudRate: port.baud, opener: opts.opener, lister: opts.lister, clock, rng, log,
      ...(opts.serialBackoff ? { backoff: opts.serialBackoff } : {}),
      onOpen: () => {
        this.counters.add('serial_opens')
        this.#publishStatus()
      },
      onClose: (reason) => {
        this.counters.add('serial_closes')
        this.#reader.reset()
        this.#commands.failAll(reason)
        this.#publishStatus()
      },
      onData: (chunk) => this.#reader.push(chunk),
    })
    this.#commands = new CommandTable({
      device, maxFrameBytes: port.maxFrameBytes, defaultTimeoutMs: port.commandTimeoutMs, clock, counters: this.counters,
      write: (line) => this.serial.write(line),
      respond: (name, body) => this.#respond(name, body),
    })
  }

  start(): void {
    this.serial.start()
    this.link.start()
  }

  /** Closes the port, says `offline`, disconnects cleanly; what is still unacked stays in the outbox. */
  async stop(): Promise<void> {
    await this.serial.stop()
    this.#commands.failAll('agent stopping')
    await this.link.stop(() => new Promise<void>((resolve) => {
      const timer = this.#o.clock.setTimeout(resolve, 2000)
      const sent = this.link.publish(this.#topics.status, OFFLINE, { qos: 1, retain: true }, () => {
        this.#o.clock.clearTimeout(timer)
        resolve()
      })
      if (!sent) resolve()
    }))
    this.#drainer.stop()
  }

  #publishStatus(): void {
    this.link.publish(this.#topics.status, this.serial.isOpen ? ONLINE : OFFLINE, { qos: 1, retain: true })
  }

  #respond(name: string, body: CommandResult): void {
    const seq = this.#o.outbox.allocSeq(this.device)
    const payload = envelope(this.device, seq, this.#o.clock.now(), body)
    // Responses go straight out, not through the outbox: a late answer is worth nothing to a
    // caller that has timed out. Without a hub they are dropped and counted.
    if (!this.link.publish(this.#topics.response(name), payload, { qos: 1 })) this.counters.add('responses_dropped')
  }
}
