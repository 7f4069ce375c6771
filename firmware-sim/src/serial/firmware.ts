import type { Clock, TimerHandle } from '../../../device-agent/dist/base/clock.js'
import type { Rng } from '../../../device-agent/dist/base/rng.js'
import { LineSplitter } from '../../../device-agent/dist/protocol/line-splitter.js'
import { encodeDeviceFrame, type DeviceFrame } from '../../../device-agent/dist/protocol/frames.js'
import { Sensors, SENSOR_NAMES, type SensorName } from './sensors.js'
import { parseFault, type Fault } from './faults.js'

export interface FirmwareOptions {
  device: string
  clock: Clock
  rng: Rng
  /** Sends bytes down the line. */
  write: (bytes: Buffer) => void
  /** Telemetry period in ms (default 1000; 0 = only on request). */
  intervalMs?: number
  /** Readings in each telemetry frame (default all four). */
  sensors?: readonly SensorName[]
  /** `json` frames, or the plain `key=value` dialect for telemetry (default json). */
  dialect?: 'json' | 'kv'
  /** Stop the periodic telemetry after this many frames (default: never). */
  count?: number
  /** Closes and reopens the line (the `disconnect` fault); without it the fault only goes silent. */
  disconnect?: (ms: number) => void
  /** Answers to no command at all: a silent device. */
  silent?: boolean
  firmwareVersion?: string
}

export interface FirmwareStats {
  frames: number
  telemetry: number
  commands: number
  responses: number
  faults: number
  junkBytes: number
}

interface Command { id: string, name: string, payload: unknown }

/**
 * Simulated firmware speaking docs/serial-protocol.md: hello and state at start, telemetry with
 * plausible values, answers to commands (`ping`, `get`, `set`, `reboot`, and `sim.<fault>` to
 * inject a fault), faults on request.
 */
export class Firmware {
  readonly stats: FirmwareStats = { frames: 0, telemetry: 0, commands: 0, responses: 0, faults: 0, junkBytes: 0 }
  readonly #o: FirmwareOptions
  readonly #sensors: Sensors
  readonly #splitter: LineSplitter
  #seq = 0
  #state: Record<string, unknown> = { relay: 'off', interval_ms: 1000 }
  #timer: TimerHandle | undefined
  #mutedUntil = 0
  #silentUntil = 0
  #bootedAt = 0

  constructor(opts: FirmwareOptions) {
    this.#o = opts
    this.#sensors = new Sensors(opts.rng)
    this.#state.interval_ms = opts.intervalMs ?? 1000
    this.#splitter = new LineSplitter({ maxLineBytes: 4096, onLine: (line) => this.#line(line), onDrop: () => {}, onDroppedBytes: () => {} })
  }

  start(): void {
    this.#bootedAt = this.#o.clock.now()
    this.#send({ type: 'hello', device: this.#o.device, payload: { fw: this.#o.firmwareVersion ?? 'sim-1.0.0', model: 'ringhub-sim', sensors: this.#o.sensors ?? SENSOR_NAMES } })
    this.#send({ type: 'state', device: this.#o.device, payload: { ...this.#state } })
    this.#schedule()
  }

  stop(): void {
    this.#o.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Bytes that came up the line from the agent. */
  receive(chunk: Buffer): void {
    this.#splitter.push(chunk)
  }

  /** Sends `n` telemetry frames now. */
  telemetry(n = 1): void {
    for (let i = 0; i < n; i++) {
      const readings = this.#sensors.read(this.#o.clock.now(), this.#o.sensors ?? SENSOR_NAMES)
      this.stats.telemetry++
      if (this.#o.dialect === 'kv') {
        this.stats.frames++
        this.#o.write(Buffer.from(Object.entries(readings).map(([k, v]) => `${k}=${v}`).join(' ') + '\n'))
      } else {
        this.#send({ type: 'telemetry', device: this.#o.device, payload: readings })
      }
    }
  }

  inject(fault: Fault): void {
    this.stats.faults++
    const { rng, write } = this.#o
    switch (fault.kind) {
      case 'noise': {
        const bytes = Buffer.alloc(fault.bytes)
        for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256)
        this.stats.junkBytes += bytes.length
        return write(bytes)
      }
      case 'garbage': {
        // Printable, no newline until the end: one over-long line.
        const bytes = Buffer.alloc(fault.bytes + 1, 0x41)
        for (let i = 0; i < fault.bytes; i += 97) bytes[i] = 0x61 + rng.int(26)
        bytes[fault.bytes] = 0x0a
        this.stats.junkBytes += bytes.length
        return write(bytes)
      }
      case 'partial': {
        const frame = encodeDeviceFrame({ type: 'telemetry', device: this.#o.device, seq: ++this.#seq, payload: this.#sensors.read(this.#o.clock.now()) })
        const half = frame.subarray(0, Math.floor(frame.length / 2))
        this.stats.junkBytes += half.length
        return write(half)
      }
      case 'burst': return this.telemetry(fault.count)
      case 'mute':
        this.#mutedUntil = this.#o.clock.monotonicMs() + fault.ms
        return
      case 'silence':
        this.#silentUntil = this.#o.clock.monotonicMs() + fault.ms
        return
      case 'disconnect':
        if (this.#o.disconnect) this.#o.disconnect(fault.ms)
        else this.#mutedUntil = this.#o.clock.monotonicMs() + fault.ms
        return
    }
  }

  #schedule(): void {
    const every = Number(this.#state.interval_ms)
    this.#o.clock.clearInterval(this.#timer)
    this.#timer = undefined
    if (!(every > 0)) return
    this.#timer = this.#o.clock.setInterval(() => {
      if (this.#o.count !== undefined && this.stats.telemetry >= this.#o.count) return this.stop()
      if (this.#o.clock.monotonicMs() >= this.#silentUntil) this.telemetry(1)
    }, every)
  }

  #send(frame: DeviceFrame): void {
    this.stats.frames++
    this.#o.write(encodeDeviceFrame({ ...frame, seq: ++this.#seq }))
  }

  #line(line: Buffer): void {
    let raw: unknown
    try {
      raw = JSON.parse(line.toString('utf8'))
    } catch {
      return // firmware ignores what it cannot read, as real firmware would
    }
    const c = raw as Partial<Command> & { type?: unknown, device?: unknown }
    if (c.type !== 'command' || typeof c.id !== 'string' || typeof c.name !== 'string') return
    if (c.device !== undefined && c.device !== this.#o.device) return
    this.stats.commands++
    if (this.#o.silent || this.#o.clock.monotonicMs() < this.#mutedUntil) return
    this.#command({ id: c.id, name: c.name, payload: c.payload })
  }

  #command(cmd: Command): void {
    const ok = (payload: unknown): void => this.#respond(cmd.id, true, payload)
    const args = (typeof cmd.payload === 'object' && cmd.payload !== null ? cmd.payload : {}) as Record<string, unknown>
    switch (cmd.name) {
      case 'ping': return ok({ pong: true, uptime_ms: this.#o.clock.now() - this.#bootedAt })
      case 'get': return ok({ ...this.#state })
      case 'set': {
        this.#state = { ...this.#state, ...args }
        if ('interval_ms' in args) this.#schedule()
        ok({ ...this.#state })
        return this.#send({ type: 'state', device: this.#o.device, payload: { ...this.#state } })
      }
      case 'reboot':
        ok({ rebooting: true })
        this.#seq = 0
        return this.start()
    }
    if (cmd.name.startsWith('sim.')) {
      const fault = parseFault(cmd.name.slice(4), typeof args.amount === 'number' ? args.amount : undefined)
      if (fault) {
        ok({ injected: fault })
        return this.inject(fault)
      }
    }
    this.#respond(cmd.id, false, null, `unknown command "${cmd.name}"`)
  }

  #respond(id: string, ok: boolean, payload: unknown, error?: string): void {
    this.stats.responses++
    this.#send({ type: 'response', device: this.#o.device, id, ok, payload, ...(error !== undefined ? { error } : {}) })
  }
}
