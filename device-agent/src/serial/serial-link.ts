import { realpath } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../base/clock.js'
import type { Rng } from '../base/rng.js'
import { backoffDelayMs, type BackoffOptions } from '../base/backoff.js'
import { formatUsbIdentity, sameUsbDevice, type PortLister, type UsbIdentity } from './usb-identity.js'

/** What the link needs of a serialport stream (`SerialPort` and `SerialPortMock` both fit). */
export interface SerialStream {
  readonly isOpen: boolean
  open(cb: (err: Error | null) => void): void
  close(cb?: (err: Error | null) => void): void
  write(data: Buffer, cb?: (err: Error | null | undefined) => void): boolean
  on(event: 'data', fn: (chunk: Buffer) => void): this
  on(event: 'close', fn: (err?: Error | null) => void): this
  on(event: 'error', fn: (err: Error) => void): this
  removeAllListeners(): this
}

/** Builds an unopened stream (`autoOpen: false`) for a path. */
export type SerialOpener = (path: string, baudRate: number) => SerialStream

export interface SerialLinkOptions {
  /** The port's path; may vanish when the device is unplugged. */
  path?: string
  /** The USB device to look for when `path` is absent or gone; learned at the first open otherwise. */
  usb?: UsbIdentity
  baudRate: number
  opener: SerialOpener
  lister: PortLister
  clock: Clock
  rng: Rng
  log: Logger
  /** Delay between reopen attempts (default 200 ms doubling to 5 s, equal jitter). */
  backoff?: BackoffOptions
  onOpen?: (path: string) => void
  onClose?: (reason: string) => void
  onData?: (chunk: Buffer) => void
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    return (await realpath(a)) === (await realpath(b))
  } catch {
    return false
  }
}

/**
 * One serial port, kept open (docs/agent.md "Serial robustness"): when it closes (unplug, I/O
 * error) or cannot be opened, retry with backoff, first by path, then by USB identity, so a
 * device that comes back as /dev/ttyUSB1 instead of /dev/ttyUSB0 is found again.
 */
export class SerialLink {
  readonly #opts: SerialLinkOptions
  #usb: UsbIdentity | undefined
  #port: SerialStream | undefined
  #openPath: string | undefined
  #timer: TimerHandle | undefined
  #failures = 0
  #stopped = true
  #opens = 0

  constructor(opts: SerialLinkOptions) {
    if (opts.path === undefined && opts.usb === undefined) throw new Error('SerialLink needs a path or a USB identity')
    this.#opts = opts
    this.#usb = opts.usb
  }

  get isOpen(): boolean { return this.#openPath !== undefined }
  /** The path currently open. */
  get openPath(): string | undefined { return this.#openPath }
  /** The USB identity configured or learned at the first open. */
  get usb(): UsbIdentity | undefined { return this.#usb }
  /** Successful opens so far (every one after the first is a reopen). */
  get opens(): number { return this.#opens }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    void this.#attempt()
  }

  /** Writes to the open port; false when it is not open. `cb` runs once the bytes are handed off. */
  write(data: Buffer, cb?: (err?: Error) => void): boolean {
    const port = this.#port
    if (!port || this.#openPath === undefined) return false
    port.write(data, (err) => cb?.(err ?? undefined))
    return true
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#opts.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    const port = this.#port
    this.#port = undefined
    this.#openPath = undefined
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()))
    port?.removeAllListeners()
  }

  /** Paths to try this round: the configured one, then whatever carries the USB identity. */
  async #candidates(): Promise<string[]> {
    const out: string[] = []
    if (this.#opts.path !== undefined) out.push(this.#opts.path)
    if (this.#usb) {
      try {
        for (const entry of await this.#opts.lister.list()) {
          if (sameUsbDevice(this.#usb, entry) && !out.includes(entry.path)) out.push(entry.path)
        }
      } catch (err) {
        this.#opts.log.debug({ err: (err as Error).message }, 'listing serial ports failed')
      }
    }
    return out
  }

  async #attempt(): Promise<void> {
    if (this.#stopped) return
    const o = this.#opts
    let lastError = 'no port with that path or USB identity'
    for (const path of await this.#candidates()) {
      if (this.#stopped) return
      const port = o.opener(path, o.baudRate)
      const err = await new Promise<Error | null>((resolve) => port.open(resolve))
      if (this.#stopped) {
        if (!err) port.close()
        return
      }
      if (err) {
        lastError = `${path}: ${err.message}`
        port.removeAllListeners()
        continue
      }
      await this.#opened(port, path)
      return
    }
    o.log.debug({ path: o.path, usb: this.#usb && formatUsbIdentity(this.#usb), err: lastError }, 'serial open failed')
    this.#scheduleRetry()
  }

  async #opened(port: SerialStream, path: string): Promise<void> {
    const o = this.#opts
    this.#port = port
    this.#openPath = path
    this.#failures = 0
    this.#opens++
    port.on('data', (chunk) => { if (this.#port === port) o.onData?.(chunk) })
    port.on('error', (err) => o.log.warn({ path, err: err.message }, 'serial error'))
    port.on('close', (err) => {
      if (this.#port !== port) return
      this.#port = undefined
      this.#openPath = undefined
      port.removeAllListeners()
      const reason = err ? err.message : 'closed'
      o.log.warn({ path, reason }, 'serial port closed')
      o.onClose?.(reason)
      this.#scheduleRetry()
    })
    o.log.info({ path, reopen: this.#opens > 1 }, 'serial port open')
    o.onOpen?.(path)
    if (this.#usb === undefined) {
      try {
        const entries = await o.lister.list()
        for (const entry of entries) {
          if (await sameFile(entry.path, path)) {
            this.#usb = entry
            o.log.info({ path, usb: formatUsbIdentity(entry) }, 'serial port identified')
            break
          }
        }
      } catch { /* identity stays unknown: reopen by path only */ }
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped) return
    const delayMs = backoffDelayMs(this.#failures++, this.#opts.backoff ?? { initialMs: 200, maxMs: 5_000 }, this.#opts.rng)
    this.#timer = this.#opts.clock.setTimeout(() => {
      this.#timer = undefined
      void this.#attempt()
    }, delayMs)
  }
}
