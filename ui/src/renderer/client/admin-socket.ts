/**
 * The admin WebSocket (`/api/v1/ws`): channel subscriptions that survive reconnects. After a drop
 * it reconnects with capped exponential backoff and jitter (MQTT.js' reconnectPeriod, but growing
 * so a hub that is down is not hammered) and re-subscribes every channel. A channel counts as live
 * only once the hub acknowledged its subscription; until then (socket down, or a hub without the
 * channel) the feeds poll over HTTP instead.
 */
import type { AdminChannel, AdminClientFrame, AdminServerFrame } from '../../../../hub/src/contract/admin-api.js'

export type SocketState = 'connecting' | 'open' | 'closed'

type SubscribeFrame = Extract<AdminClientFrame, { op: 'subscribe' }>
/** A subscription as the caller gives it (the socket adds the `ref`). */
export type Subscription = SubscribeFrame extends infer F ? F extends { ref: string, op: 'subscribe' } ? Omit<F, 'ref' | 'op'> : never : never

export interface AdminSocketOptions {
  url: () => string
  onFrame: (frame: AdminServerFrame) => void
  onStateChanged?: (state: SocketState) => void
  /** First reconnect delay, ms (default 500); doubles per failure up to `maxBackoffMs` (10 s). */
  minBackoffMs?: number
  maxBackoffMs?: number
}

export class AdminSocket {
  #ws: WebSocket | undefined
  #state: SocketState = 'closed'
  #stopped = true
  #backoffMs: number
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #refs = 0
  readonly #subs = new Map<AdminChannel, Subscription>()
  /** Channels whose current subscription the hub acknowledged. */
  readonly #live = new Set<AdminChannel>()
  /** Outstanding subscribe refs → channel. */
  readonly #pending = new Map<string, AdminChannel>()

  constructor(private readonly opts: AdminSocketOptions) {
    this.#backoffMs = opts.minBackoffMs ?? 500
  }

  get state(): SocketState { return this.#state }
  isLive(channel: AdminChannel): boolean { return this.#live.has(channel) }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    this.#ws?.close()
    this.#ws = undefined
    this.#setState('closed')
  }

  /** Drops the connection and connects again at once (e.g. after the hub URL or token changed). */
  restart(): void {
    this.stop()
    this.#backoffMs = this.opts.minBackoffMs ?? 500
    this.start()
  }

  /** Subscribes (again, replacing a tap filter) now if connected, and after every reconnect. */
  subscribe(sub: Subscription): void {
    this.#subs.set(sub.channel, sub)
    this.#live.delete(sub.channel)
    this.#sendSubscribe(sub)
  }

  unsubscribe(channel: AdminChannel): void {
    this.#subs.delete(channel)
    this.#live.delete(channel)
    this.#send({ ref: this.#ref(), op: 'unsubscribe', channel })
  }

  #connect(): void {
    this.#setState('connecting')
    let ws: WebSocket
    try {
      ws = new WebSocket(this.opts.url())
    } catch {
      this.#scheduleRetry()
      return
    }
    this.#ws = ws
    ws.onopen = () => {
      this.#backoffMs = this.opts.minBackoffMs ?? 500
      this.#setState('open')
      for (const sub of this.#subs.values()) this.#sendSubscribe(sub)
    }
    ws.onmessage = (ev) => this.#receive(ev.data)
    ws.onclose = () => {
      if (this.#ws !== ws) return
      this.#ws = undefined
      this.#live.clear()
      this.#pending.clear()
      this.#setState('closed')
      this.#scheduleRetry()
    }
    // An error is always followed by close, which retries.
    ws.onerror = () => {}
  }

  #scheduleRetry(): void {
    if (this.#stopped) return
    const delay = this.#backoffMs * (0.75 + Math.random() * 0.5)
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.opts.maxBackoffMs ?? 10_000)
    this.#retryTimer = setTimeout(() => this.#connect(), delay)
  }

  #receive(data: unknown): void {
    if (typeof data !== 'string') return
    let frame: AdminServerFrame
    try {
      frame = JSON.parse(data) as AdminServerFrame
    } catch {
      return // not a frame of ours; the hub only sends JSON text
    }
    if (frame.op === 'ok' || frame.op === 'error') {
      const channel = frame.ref === null ? undefined : this.#pending.get(frame.ref)
      if (frame.ref !== null) this.#pending.delete(frame.ref)
      if (channel && frame.op === 'ok' && this.#subs.has(channel)) this.#live.add(channel)
    }
    this.opts.onFrame(frame)
  }

  #sendSubscribe(sub: Subscription): void {
    const ref = this.#ref()
    if (this.#send({ ...sub, ref, op: 'subscribe' } as AdminClientFrame)) this.#pending.set(ref, sub.channel)
  }

  #send(frame: AdminClientFrame): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false
    this.#ws.send(JSON.stringify(frame))
    return true
  }

  #ref(): string { return `r${++this.#refs}` }

  #setState(state: SocketState): void {
    if (state === this.#state) return
    this.#state = state
    this.opts.onStateChanged?.(state)
  }
}
