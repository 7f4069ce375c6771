import type { Clock, TimerHandle } from '../../../device-agent/dist/base/clock.js'
import type { SerialOpener, SerialStream } from '../../../device-agent/dist/serial/serial-link.js'
import { Firmware, type FirmwareOptions } from './firmware.js'

export interface SerialSimOptions extends Omit<FirmwareOptions, 'write' | 'disconnect'> {
  /** The simulator's end of the line (one side of a socat pty pair). */
  path: string
  baudRate: number
  opener: SerialOpener
}

/**
 * The simulated firmware on a real serial port. The `disconnect` fault closes the port for a while
 * and opens it again; everything written while closed is lost, as on a real line.
 */
export class SerialSim {
  readonly firmware: Firmware
  readonly #o: SerialSimOptions
  #port: SerialStream | undefined
  #reopenTimer: TimerHandle | undefined
  #stopped = false

  private constructor(opts: SerialSimOptions) {
    this.#o = opts
    this.firmware = new Firmware({
      ...opts,
      write: (bytes) => { this.#port?.write(bytes) },
      disconnect: (ms) => this.#disconnect(ms, opts.clock),
    })
  }

  static async start(opts: SerialSimOptions): Promise<SerialSim> {
    const sim = new SerialSim(opts)
    await sim.#open()
    sim.firmware.start()
    return sim
  }

  get isOpen(): boolean { return this.#port !== undefined }

  async stop(): Promise<void> {
    this.#stopped = true
    this.firmware.stop()
    this.#o.clock.clearTimeout(this.#reopenTimer)
    await this.#close()
  }

  async #open(): Promise<void> {
    const port = this.#o.opener(this.#o.path, this.#o.baudRate)
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())))
    port.on('data', (chunk) => this.firmware.receive(chunk))
    port.on('error', () => { /* reported by close */ })
    port.on('close', () => { if (this.#port === port) this.#port = undefined })
    this.#port = port
  }

  async #close(): Promise<void> {
    const port = this.#port
    this.#port = undefined
    if (port?.isOpen) {
      // Let queued bytes reach the line first.
      await new Promise<void>((resolve) => port.write(Buffer.alloc(0), () => resolve()))
      await new Promise<void>((resolve) => port.close(() => resolve()))
    }
    port?.removeAllListeners()
  }

  #disconnect(ms: number, clock: Clock): void {
    void this.#close().then(() => {
      if (this.#stopped) return
      this.#reopenTimer = clock.setTimeout(() => {
        if (!this.#stopped) this.#open().catch(() => { /* the line is gone: stay closed */ })
      }, ms)
    })
  }
}
