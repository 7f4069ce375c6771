import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../base/clock.js'
import type { Counters } from '../base/counters.js'
import { LineSplitter } from '../protocol/line-splitter.js'
import { parseLine } from '../protocol/parse-line.js'
import type { DeviceFrame } from '../protocol/frames.js'

export interface FrameReaderOptions {
  device: string
  /** Longest frame, in bytes without the newline (default 1024). */
  maxFrameBytes: number
  /** A partial line with no new byte for this long is dropped, in ms (default 500; 0 = never). */
  partialTimeoutMs: number
  clock: Clock
  counters: Counters
  log: Logger
  onFrame: (frame: DeviceFrame) => void
}

/**
 * Bytes from one serial port → frames. Junk (noise, over-long lines, partial frames, bad JSON,
 * unknown types) is counted by reason in `dropped.<reason>` and `dropped_bytes`, and skipped;
 * memory held is at most one frame.
 */
export class FrameReader {
  readonly #o: FrameReaderOptions
  readonly #splitter: LineSplitter
  #gapTimer: TimerHandle | undefined
  #lastFseq: number | undefined

  constructor(opts: FrameReaderOptions) {
    this.#o = opts
    const c = opts.counters
    this.#splitter = new LineSplitter({
      maxLineBytes: opts.maxFrameBytes,
      onLine: (line) => this.#line(line),
      onDrop: (reason) => c.add(`dropped.${reason}`),
      onDroppedBytes: (n) => c.add('dropped_bytes', n),
    })
  }

  push(chunk: Buffer): void {
    this.#o.counters.add('serial_bytes', chunk.length)
    this.#splitter.push(chunk)
    this.#armGapTimer()
  }

  /** The port closed: a partial line can never complete. */
  reset(): void {
    this.#o.clock.clearTimeout(this.#gapTimer)
    this.#gapTimer = undefined
    this.#splitter.dropPartial()
    this.#lastFseq = undefined
  }

  #armGapTimer(): void {
    const { clock, partialTimeoutMs } = this.#o
    clock.clearTimeout(this.#gapTimer)
    this.#gapTimer = undefined
    if (partialTimeoutMs <= 0 || !this.#splitter.hasPartial) return
    this.#gapTimer = clock.setTimeout(() => {
      this.#gapTimer = undefined
      this.#splitter.dropPartial()
    }, partialTimeoutMs)
  }

  #line(line: Buffer): void {
    const { counters, device, log } = this.#o
    const parsed = parseLine(line, device)
    if (parsed.kind === 'empty') return
    if (parsed.kind === 'rejected') {
      counters.add(`dropped.${parsed.reason}`)
      counters.add('dropped_bytes', line.length + 1)
      log.debug({ reason: parsed.reason, detail: parsed.detail, bytes: line.length }, 'serial line dropped')
      return
    }
    if (parsed.skippedBytes > 0) {
      counters.add('resynced')
      counters.add('dropped_bytes', parsed.skippedBytes)
    }
    counters.add('frames')
    this.#trackFseq(parsed.frame.seq)
    this.#o.onFrame(parsed.frame)
  }

  /** Gaps in the firmware's counter are frames lost on the line (or dropped as junk). */
  #trackFseq(seq: number | undefined): void {
    if (seq === undefined) return
    const last = this.#lastFseq
    this.#lastFseq = seq
    if (last === undefined) return
    if (seq <= last) this.#o.counters.add('fseq_resets')
    else if (seq > last + 1) this.#o.counters.add('fseq_missed', seq - last - 1)
  }
}
