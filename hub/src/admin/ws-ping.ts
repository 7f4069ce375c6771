import type { RawData, WebSocket } from 'ws'
import type { Clock, TimerHandle } from '../base/clock.js'

/**
 * The sockets of one WebSocket server, pinged every `periodMs`: one that did not answer the
 * previous ping is terminated (a client that vanished without closing,
 * a laptop lid, must not keep its subscriptions forever). Shared by the operator WebSocket and
 * the channel endpoint.
 */
export class PingSweep {
  readonly #sockets = new Set<WebSocket>()
  readonly #alive = new WeakSet<WebSocket>()
  readonly #timer: TimerHandle

  constructor(private readonly clock: Clock, periodMs: number, private readonly onSilent: () => void) {
    this.#timer = clock.setInterval(() => this.#sweep(), periodMs)
    this.#timer.unref()
  }

  get size(): number { return this.#sockets.size }

  /**
   * Watches `ws` until it closes. Only a pong counts as a sign of life: a client that keeps
   * sending but reads nothing (its pongs queue behind what it does not read) is closed too.
   */
  track(ws: WebSocket): void {
    this.#sockets.add(ws)
    this.#alive.add(ws)
    ws.on('pong', () => this.#alive.add(ws))
    ws.once('close', () => this.#sockets.delete(ws))
  }

  /** Stops pinging and terminates every socket still open. */
  close(): void {
    this.clock.clearInterval(this.#timer)
    for (const ws of this.#sockets) ws.terminate()
  }

  #sweep(): void {
    for (const ws of this.#sockets) {
      if (!this.#alive.has(ws)) {
        this.onSilent()
        ws.terminate()
        continue
      }
      this.#alive.delete(ws)
      ws.ping()
    }
  }
}

/** A WebSocket message's bytes as text (ws hands a Buffer, a list of them, or an ArrayBuffer). */
export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}
