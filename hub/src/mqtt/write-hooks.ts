import type { Duplex } from 'node:stream'
import { nextTurn } from '../base/next-turn.js'

// What the hub does to every connection's writes, by wrapping `write` on that one instance
// (aedes writes through mqtt-packet's writeToStream, which calls `conn.write`).

/** Counts bytes written on a stream, by wrapping `write` on this one instance. */
export function countWrites(conn: Duplex, onBytes: (count: number) => void): void {
  const originalWrite = conn.write
  conn.write = function countedWrite(this: Duplex, ...args: Parameters<Duplex['write']>) {
    const chunk: unknown = args[0]
    if (chunk instanceof Uint8Array) onBytes(chunk.length)
    else if (typeof chunk === 'string') onBytes(Buffer.byteLength(chunk))
    return originalWrite.apply(this, args)
  } as Duplex['write']
}

/**
 * Gathers everything written to `conn` during one event-loop turn into one socket write: the
 * first write of a turn corks the stream and the next turn uncorks it. aedes answers each packet
 * of a read from its own callback (a PUBACK once that message is stored, each delivery after
 * setImmediate), and mqtt-packet's own cork only lasts until nextTick, so without this every
 * PUBACK and delivery would cost a syscall and a read on the other side.
 */
export function coalesceWrites(conn: Duplex): void {
  let corked = false
  const uncork = (): void => {
    corked = false
    conn.uncork()
  }
  const originalWrite = conn.write
  conn.write = function coalescedWrite(this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (!corked && !this.destroyed) {
      corked = true
      this.cork()
      nextTurn(uncork)
    }
    return originalWrite.apply(this, args)
  } as Duplex['write']
}
