/**
 * `ringhub/channels`: a small client of the JSON channel protocol (docs/channels.md) for
 * browsers and Node. It keeps one WebSocket to one hub of a list, and when that hub goes away
 * it reconnects to the next one with backoff, joins again, and resumes each keyed join from the
 * last offset it saw, so the application sees every message of a key once, in order, across
 * failovers (within the owner's log retention). No Node APIs: in Node pass `WebSocket` from the
 * `ws` package (Node 20 has no global one).
 */
import { offsetAfter, type ChannelClientFrame, type ChannelMessage, type ChannelOffset, type ChannelOk, type ChannelServerFrame, type PresenceMember } from '../contract/channels.js'

/** The part of the WHATWG WebSocket the client uses (browsers' and `ws`'s both have it). */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: { code: number, reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
}
export type WebSocketCtor = new (url: string) => WebSocketLike

/** Timers, injectable for tests; the default is the platform's (browser or Node). */
export interface ClientTimers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

/* eslint-disable no-restricted-globals -- the platform's timers, wrapped once (no Node Clock in a browser) */
const platformTimers: ClientTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
}
/* eslint-enable no-restricted-globals */

export interface ChannelClientOptions {
  /** Hub channel endpoints, tried in turn: `ws://hub-a:8080/channels`, ... */
  urls: readonly string[]
  /** Device or user credentials (sent in an `auth` frame), or an admin token (`?token=`). */
  auth?: { username: string, password: string } | { token: string }
  /** Default: `globalThis.WebSocket`. */
  WebSocket?: WebSocketCtor
  /** First reconnect delay, ms (doubled per failed attempt up to `maxBackoffMs`, with jitter). */
  backoffMs?: number
  maxBackoffMs?: number
  /** A heartbeat is sent this often; no answer within it closes the socket (then failover). */
  heartbeatMs?: number
  /** How long a request (join, publish, ...) waits for its reply on one connection, ms. */
  requestTimeoutMs?: number
  /** Publishes kept while no hub is connected; beyond, `publish` rejects. */
  maxPendingPublishes?: number
  timers?: ClientTimers
}

export interface JoinOptions {
  qos?: 0 | 1
  /** Resume from this offset on the first join (a keyed topic); later rejoins use the last seen. */
  since?: ChannelOffset
}

/** What the client reports to `onState`. */
export type ChannelClientState =
  | { state: 'connected', url: string }
  | { state: 'disconnected', url: string, code: number, reason: string }
  | { state: 'resumed', topic: string, resumed: boolean }

export class ChannelError extends Error {
  constructor(readonly code: string, message: string) {
    super(message)
    this.name = 'ChannelError'
  }
}

interface JoinState {
  topic: string
  qos: 0 | 1
  handler: (message: ChannelMessage) => void
  /** The last offset the application got, per key. */
  last: Map<string, ChannelOffset>
  since: ChannelOffset | undefined
}

interface Pending {
  frame: ChannelClientFrame
  resolve: (ok: ChannelOk) => void
  reject: (err: Error) => void
  timer: unknown
  /** Re-sent on the next connection when the current one ends before the reply. */
  retry: boolean
}

const OPEN = 1

export class ChannelClient {
  readonly #opts: Required<Omit<ChannelClientOptions, 'auth'>> & Pick<ChannelClientOptions, 'auth'>
  readonly #joins = new Map<string, JoinState>()
  readonly #watchers = new Map<string, (event: { event: 'join' | 'leave', member: PresenceMember }) => void>()
  readonly #pending = new Map<string, Pending>()
  readonly #stateListeners: Array<(s: ChannelClientState) => void> = []
  #ws: WebSocketLike | undefined
  #ready = false
  #urlIndex = 0
  #attempt = 0
  #nextRef = 0
  #closed = false
  #heartbeat: unknown
  #reconnect: unknown
  #awaitingHeartbeat = false
  #ackDue = 0
  #ackScheduled = false
  #readyWaiters: Array<() => void> = []

  constructor(options: ChannelClientOptions) {
    if (options.urls.length === 0) throw new ChannelError('no-urls', 'ChannelClient needs at least one hub URL')
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket
    if (!ctor) throw new ChannelError('no-websocket', 'no WebSocket here: pass the `ws` package\'s WebSocket as options.WebSocket')
    this.#opts = {
      urls: options.urls, auth: options.auth, WebSocket: ctor,
      backoffMs: options.backoffMs ?? 100, maxBackoffMs: options.maxBackoffMs ?? 5_000,
      heartbeatMs: options.heartbeatMs ?? 15_000, requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      maxPendingPublishes: options.maxPendingPublishes ?? 1_000, timers: options.timers ?? platformTimers,
    }
    this.#open()
  }

  /** The URL of the hub in use now, or undefined while reconnecting. */
  get url(): string | undefined { return this.#ready ? this.#opts.urls[this.#urlIndex] : undefined }

  onState(listener: (s: ChannelClientState) => void): void { this.#stateListeners.push(listener) }

  /** Resolves once connected (and authenticated) to some hub. */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve()
    return new Promise((resolve) => { this.#readyWaiters.push(resolve) })
  }

  /**
   * Joins `topic` (an MQTT filter); `handler` gets every message, once per key offset, in
   * order. Kept across reconnects: the join is made again, from the last offset seen.
   */
  async join(topic: string, handler: (message: ChannelMessage) => void, options: JoinOptions = {}): Promise<ChannelOk> {
    if (this.#joins.has(topic)) throw new ChannelError('already-joined', `already joined to ${topic}`)
    const join: JoinState = { topic, qos: options.qos ?? 0, handler, last: new Map(), since: options.since }
    this.#joins.set(topic, join)
    try {
      return await this.#request(this.#joinFrame(join), false)
    } catch (err) {
      this.#joins.delete(topic)
      throw err
    }
  }

  async leave(topic: string): Promise<void> {
    if (!this.#joins.delete(topic)) return
    if (this.#ready) await this.#request({ ref: this.#ref(), op: 'leave', topic }, false)
  }

  /**
   * Publishes `payload` (a JSON value, or raw bytes as base64 with `encoding: 'base64'`).
   * Resolves once the key's owner acknowledged it (QoS 1, the default). A publish whose
   * connection ends before the answer is sent again on the next one (at least once).
   */
  publish(topic: string, payload: unknown, options: { qos?: 0 | 1, retain?: boolean, encoding?: 'json' | 'base64' } = {}): Promise<ChannelOk> {
    const waiting = [...this.#pending.values()].filter((p) => p.frame.op === 'publish').length
    if (!this.#ready && waiting >= this.#opts.maxPendingPublishes) return Promise.reject(new ChannelError('queue-full', 'too many publishes waiting for a hub'))
    return this.#request({ ref: this.#ref(), op: 'publish', topic, payload, qos: options.qos ?? 1, retain: options.retain ?? false, encoding: options.encoding ?? 'json' }, true)
  }

  /** Who is joined to `topic` ring-wide; with `onEvent`, then every join and leave. */
  async presence(topic: string, onEvent?: (event: { event: 'join' | 'leave', member: PresenceMember }) => void): Promise<PresenceMember[]> {
    if (onEvent) this.#watchers.set(topic, onEvent)
    const ok = await this.#request({ ref: this.#ref(), op: 'presence', topic, watch: onEvent !== undefined }, false)
    return ok.members ?? []
  }

  /** Closes the connection for good. */
  close(): void {
    this.#closed = true
    this.#opts.timers.clearTimeout(this.#reconnect)
    this.#opts.timers.clearInterval(this.#heartbeat)
    for (const p of this.#pending.values()) { this.#opts.timers.clearTimeout(p.timer); p.reject(new ChannelError('closed', 'the client was closed')) }
    this.#pending.clear()
    this.#ws?.close(1000, 'client closed')
  }

  #ref(): string { return `r${++this.#nextRef}` }

  #joinFrame(join: JoinState): ChannelClientFrame {
    const since = lastOf(join) ?? join.since
    return { ref: this.#ref(), op: 'join', topic: join.topic, qos: join.qos, ...(since ? { since } : {}) }
  }

  #request(frame: ChannelClientFrame, retry: boolean): Promise<ChannelOk> {
    return new Promise((resolve, reject) => {
      const ref = frame.ref as string
      const pending: Pending = { frame, resolve, reject, timer: undefined, retry }
      this.#pending.set(ref, pending)
      if (this.#ready) this.#send(pending)
      else if (!retry) {
        // Joins and presence queries are made again on connect anyway; the caller learns now.
        this.#pending.delete(ref)
        if (frame.op === 'join') resolve({ ref, op: 'ok' })
        else reject(new ChannelError('disconnected', 'no hub connected'))
      }
    })
  }

  #send(p: Pending): void {
    this.#opts.timers.clearTimeout(p.timer)
    p.timer = this.#opts.timers.setTimeout(() => {
      // No answer on this connection: treat the hub as gone (a publish is sent again after).
      this.#ws?.close(4000, `no reply to ${p.frame.op} within ${this.#opts.requestTimeoutMs} ms`)
    }, this.#opts.requestTimeoutMs)
    this.#ws?.send(JSON.stringify(p.frame))
  }

  #open(): void {
    if (this.#closed) return
    const url = this.#opts.urls[this.#urlIndex] as string
    const auth = this.#opts.auth
    const target = auth && 'token' in auth ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(auth.token)}` : url
    let ws: WebSocketLike
    try {
      ws = new this.#opts.WebSocket(target)
    } catch {
      return this.#retry()
    }
    this.#ws = ws
    ws.onopen = () => {
      if (auth && 'username' in auth) {
        const ref = this.#ref()
        this.#pending.set(ref, { frame: { ref, op: 'auth', ...auth }, resolve: () => this.#connected(url), reject: () => ws.close(4001, 'auth refused'), timer: undefined, retry: false })
        this.#send(this.#pending.get(ref) as Pending)
      } else {
        this.#connected(url)
      }
    }
    ws.onmessage = (ev) => { if (this.#ws === ws) this.#frame(ev.data) }
    ws.onerror = () => { /* onclose follows */ }
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return
      const wasReady = this.#ready
      this.#ready = false
      this.#ws = undefined
      this.#opts.timers.clearInterval(this.#heartbeat)
      for (const [ref, p] of this.#pending) {
        this.#opts.timers.clearTimeout(p.timer)
        // A join of a topic still joined waits for its answer on the next connection, where it is
        // made again (from the last offset seen): join() settles with that answer.
        if (p.retry || (p.frame.op === 'join' && this.#joins.has(p.frame.topic))) continue
        this.#pending.delete(ref)
        if (p.frame.op === 'join' || p.frame.op === 'auth') continue
        p.reject(new ChannelError('disconnected', `the connection to ${url} ended`))
      }
      if (wasReady) this.#emit({ state: 'disconnected', url, code: ev.code, reason: ev.reason })
      this.#retry()
    }
  }

  #connected(url: string): void {
    this.#ready = true
    this.#attempt = 0
    this.#awaitingHeartbeat = false
    this.#heartbeat = this.#opts.timers.setInterval(() => this.#beat(), this.#opts.heartbeatMs)
    for (const join of this.#joins.values()) {
      const frame = this.#joinFrame(join)
      const pending: Pending = {
        frame, timer: undefined, retry: false,
        resolve: (ok) => { if (frame.op === 'join' && frame.since) this.#emit({ state: 'resumed', topic: join.topic, resumed: ok.resumed === true }) },
        reject: () => { /* an error frame: the join stays known and is tried on the next connection */ },
      }
      // A join still waiting for its answer (the application's, or a rejoin) is sent again under
      // its own ref, from the last offset seen now.
      const waiting = [...this.#pending.values()].find((p) => p.frame.op === 'join' && p.frame.topic === join.topic)
      if (waiting) {
        waiting.frame = { ...frame, ref: waiting.frame.ref as string } as ChannelClientFrame
        this.#send(waiting)
        continue
      }
      this.#pending.set(frame.ref as string, pending)
      this.#send(pending)
    }
    for (const topic of this.#watchers.keys()) {
      const ref = this.#ref()
      const pending: Pending = { frame: { ref, op: 'presence', topic, watch: true }, timer: undefined, retry: false, resolve: () => {}, reject: () => {} }
      this.#pending.set(ref, pending)
      this.#send(pending)
    }
    for (const p of this.#pending.values()) if (p.retry) this.#send(p)
    // Last: a join the application makes when told is then sent once, not also by the loop above.
    this.#emit({ state: 'connected', url })
    for (const w of this.#readyWaiters.splice(0)) w()
  }

  #beat(): void {
    if (this.#awaitingHeartbeat) {
      this.#ws?.close(4000, 'heartbeat not answered')
      return
    }
    this.#awaitingHeartbeat = true
    const ref = this.#ref()
    this.#pending.set(ref, { frame: { ref, op: 'heartbeat' }, timer: undefined, retry: false, resolve: () => { this.#awaitingHeartbeat = false }, reject: () => {} })
    this.#ws?.send(JSON.stringify({ ref, op: 'heartbeat' }))
  }

  #retry(): void {
    if (this.#closed) return
    this.#urlIndex = (this.#urlIndex + 1) % this.#opts.urls.length
    const base = Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** Math.min(this.#attempt, 16))
    this.#attempt++
    // The first try of each hub after a working connection is immediate; then backoff with jitter.
    const delay = this.#attempt <= 1 ? 0 : base / 2 + Math.random() * base / 2
    this.#reconnect = this.#opts.timers.setTimeout(() => this.#open(), delay)
  }

  #frame(data: unknown): void {
    let frame: ChannelServerFrame
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as ChannelServerFrame
    } catch {
      return
    }
    if (frame.op === 'message') return this.#message(frame)
    if (frame.op === 'presence') return this.#watchers.get(frame.topic)?.({ event: frame.event, member: frame.member })
    const ref = frame.ref
    const pending = ref === null ? undefined : this.#pending.get(ref)
    if (!pending) return
    this.#pending.delete(ref as string)
    this.#opts.timers.clearTimeout(pending.timer)
    if (frame.op === 'ok') pending.resolve(frame)
    else pending.reject(new ChannelError(frame.code, frame.reason))
  }

  #message(m: ChannelMessage): void {
    if (m.id !== undefined) this.#ack(m.id)
    const join = this.#joins.get(m.join)
    if (!join) return // left meanwhile
    if (m.key !== undefined && m.epoch !== undefined && m.seq !== undefined) {
      const last = join.last.get(m.key)
      const offset = { epoch: m.epoch, seq: m.seq }
      // Never twice, never backwards: a resumed join may overlap what was seen before.
      if (last && !offsetAfter(offset, last)) return
      join.last.set(m.key, offset)
    }
    join.handler(m)
  }

  /** Acknowledges up to `id` once per turn (cumulative). */
  #ack(id: number): void {
    this.#ackDue = Math.max(this.#ackDue, id)
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    queueMicrotask(() => {
      this.#ackScheduled = false
      if (this.#ws && this.#ws.readyState === OPEN) this.#ws.send(JSON.stringify({ op: 'ack', id: this.#ackDue }))
    })
  }

  #emit(s: ChannelClientState): void {
    for (const l of this.#stateListeners) l(s)
  }
}

/** The last offset seen of a keyed join (its only key), for `since`. */
function lastOf(join: JoinState): ChannelOffset | undefined {
  if (join.last.size !== 1) return undefined
  return join.last.values().next().value
}
