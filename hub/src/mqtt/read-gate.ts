import type { Duplex } from 'node:stream'
import { nextTurn } from '../base/next-turn.js'

/**
 * Stops and restarts reading from every client connection at once (memory overload,
 * overload-governor.ts). aedes reads with `conn.read(null)` on 'readable' and reads the next
 * chunk only once the packets of the last one are handled; while the gate is closed `read`
 * answers null, so aedes waits, the stream's buffer fills to its high-water mark, Node stops
 * reading the socket and TCP flow control pushes back on the client. Nothing read is dropped: a
 * QoS 1 publish not read is not acknowledged, and the client still holds it.
 *
 * Only connections whose CONNECT has been answered are held (`held`): a new connection's
 * CONNECT is read so that it can be refused with CONNACK 0x03 instead of left waiting.
 * aedes' own `client.pause()` is not used: called while packets of a read are being handled it
 * loses their completions and the client never reads again.
 */
export class ReadGate {
  #closed = false
  /** Connections that asked to read while closed: told to read again on open. */
  readonly #starved = new Set<Duplex>()

  /**
   * `onHeld`: a connection was held (counted as shed). `onRead`: bytes were read from a client
   * (the governor looks at memory every so many, `OverloadGovernor.noteRead`), before the gate
   * is asked about the next read.
   */
  constructor(private readonly onHeld: () => void = () => {}, private readonly onRead: (bytes: number) => void = () => {}) {}

  get closed(): boolean { return this.#closed }

  /** Connections waiting for the gate to open. */
  get waiting(): number { return this.#starved.size }

  close(): void { this.#closed = true }

  /** Opens the gate and makes every held connection read what it has buffered. */
  open(): void {
    this.#closed = false
    const starved = [...this.#starved]
    this.#starved.clear()
    // 'readable' is what aedes reads on; a stream with nothing buffered just answers null again.
    for (const conn of starved) if (!conn.destroyed) conn.emit('readable')
  }

  /**
   * Wraps `read` on this one connection (like the frame guard; install it after the guard, so
   * that bytes held here are not scanned yet). `held()` says whether the connection is one to hold
   * (its CONNECT answered).
   *
   * A connection the hub's writes are backed up on is not held, and one that backs up while held
   * is let go: its client may have stopped reading because it cannot write (mqtt.js handles the
   * next packet only once its PUBACK for the last one is written), and the hub's QoS 1 deliveries
   * to it wait for that; holding its reads would then stall every delivery and publish behind
   * them, with their memory, until the drain timeout.
   */
  install(conn: Duplex, held: () => boolean): void {
    const originalRead = conn.read
    const originalWrite = conn.write
    const starved = this.#starved
    const closed = (): boolean => this.#closed
    const onHeld = this.onHeld
    const onRead = this.onRead
    conn.once('close', () => starved.delete(conn))
    conn.read = function gatedRead(this: Duplex, size?: number) {
      if (closed() && held() && !this.writableNeedDrain) {
        if (!starved.has(this)) {
          starved.add(this)
          onHeld()
        }
        return null
      }
      const chunk = originalRead.call(this, size) as unknown
      if (chunk instanceof Uint8Array) onRead(chunk.length)
      return chunk
    }
    conn.write = function gatedWrite(this: Duplex, ...args: Parameters<Duplex['write']>) {
      const ok = originalWrite.apply(this, args)
      // Backed up now: read what it sent (its acknowledgements), after this write returns.
      if (!ok && starved.delete(this)) nextTurn(() => { if (!this.destroyed) this.emit('readable') })
      return ok
    } as Duplex['write']
  }
}
