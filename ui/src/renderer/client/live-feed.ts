/**
 * One live data source for a view: pushed over the admin WebSocket when the hub acknowledged the
 * channel, polled over HTTP otherwise (socket down, older hub). Polling stops by itself while the
 * channel is live, so a view never gets both.
 */
import type { AdminChannel } from '../../../../hub/src/contract/admin-api.js'
import type { AdminSocket } from './admin-socket.js'

export class LiveFeed {
  #timer: ReturnType<typeof setInterval> | undefined
  #busy = false

  /**
   * `poll` fetches the channel's data over HTTP and hands it to the view; it runs at once (the
   * initial load) and then every `intervalMs` while the channel is not live.
   */
  constructor(
    private readonly socket: AdminSocket,
    private readonly channel: AdminChannel,
    private readonly poll: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.#timer !== undefined) return
    void this.#tick(true)
    this.#timer = setInterval(() => { void this.#tick(false) }, this.intervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Polls now regardless of the socket (e.g. after reconnecting, to fill what was missed). */
  refresh(): Promise<void> { return this.#tick(true) }

  async #tick(always: boolean): Promise<void> {
    if (this.#busy || (!always && this.socket.isLive(this.channel))) return
    this.#busy = true
    try {
      await this.poll()
    } catch (err) {
      this.onError(err)
    } finally {
      this.#busy = false
    }
  }
}
