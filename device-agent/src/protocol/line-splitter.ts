/** Why bytes from the line were thrown away before they could become a frame. */
export type LineDropReason = 'overlong' | 'partial'

export interface LineSplitterOptions {
  /** Longest line kept, in bytes, without its newline; longer lines are dropped whole. */
  maxLineBytes: number
  /** Called with each complete line (no `\n`, no trailing `\r`). The buffer is the caller's. */
  onLine: (line: Buffer) => void
  /** Called once per dropped line. */
  onDrop: (reason: LineDropReason) => void
  /** Called with the number of bytes thrown away (possibly several times for one line). */
  onDroppedBytes: (bytes: number) => void
}

const NL = 0x0a
const CR = 0x0d

/**
 * Splits a byte stream into newline-terminated lines while holding at most `maxLineBytes` bytes:
 * a line that grows past the bound is dropped and everything up to the next `\n` is skipped
 * (resync at the newline, docs/serial-protocol.md), so 1 MB without a newline costs no memory.
 */
export class LineSplitter {
  readonly #opts: LineSplitterOptions
  #parts: Buffer[] = []
  #size = 0
  /** Inside an over-long line: skip to the next newline. */
  #skipping = false

  constructor(opts: LineSplitterOptions) {
    this.#opts = opts
  }

  /** True while part of a line is buffered (the caller's inter-byte gap timer looks at this). */
  get hasPartial(): boolean { return this.#size > 0 || this.#skipping }

  push(chunk: Buffer): void {
    let start = 0
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start)
      const end = nl < 0 ? chunk.length : nl
      this.#take(chunk.subarray(start, end))
      if (nl < 0) return
      this.#endLine()
      start = nl + 1
    }
  }

  /** Drops a buffered partial line (the gap timer fired, or the port closed). */
  dropPartial(): void {
    if (this.#skipping) {
      this.#skipping = false
    } else if (this.#size > 0) {
      this.#opts.onDrop('partial')
      this.#opts.onDroppedBytes(this.#size)
    }
    this.#parts = []
    this.#size = 0
  }

  #take(segment: Buffer): void {
    if (segment.length === 0) return
    if (this.#skipping) {
      this.#opts.onDroppedBytes(segment.length)
      return
    }
    if (this.#size + segment.length > this.#opts.maxLineBytes + 1) {
      // +1: a trailing \r of a CRLF line does not count against the bound.
      this.#skipping = true
      this.#opts.onDrop('overlong')
      this.#opts.onDroppedBytes(this.#size + segment.length)
      this.#parts = []
      this.#size = 0
      return
    }
    // Copy: a chunk from the port may be 64 KiB; keeping a view would pin all of it.
    this.#parts.push(Buffer.from(segment))
    this.#size += segment.length
  }

  #endLine(): void {
    if (this.#skipping) {
      this.#skipping = false
      this.#opts.onDroppedBytes(1)
      return
    }
    let line = this.#parts.length === 1 ? this.#parts[0] as Buffer : Buffer.concat(this.#parts, this.#size)
    this.#parts = []
    this.#size = 0
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
    if (line.length > this.#opts.maxLineBytes) {
      this.#opts.onDrop('overlong')
      this.#opts.onDroppedBytes(line.length + 1)
      return
    }
    this.#opts.onLine(line)
  }
}
