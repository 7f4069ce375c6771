import { Readable } from 'node:stream'
import type { OutgoingRow } from './persistence-statements.js'

export const isDollarTopic = (topic: string): boolean => topic.charCodeAt(0) === 0x24 // '$'
export const startsWithWildcard = (filter: string): boolean => filter.charCodeAt(0) === 0x23 || filter.charCodeAt(0) === 0x2b // '#', '+'

/** The row that was queued first (lowest seq) of two candidates. */
export function earliest(a: OutgoingRow | undefined, b: OutgoingRow | undefined): OutgoingRow | undefined {
  if (!a || !b) return a ?? b
  return a.seq <= b.seq ? a : b
}

/** A stream of what `load` returns now; if loading fails, a stream that errors with it. */
export function snapshotStream<T>(load: () => T[]): Readable {
  try {
    return Readable.from(load())
  } catch (err) {
    return new Readable({ objectMode: true, read() { this.destroy(err instanceof Error ? err : new Error(String(err))) } })
  }
}
