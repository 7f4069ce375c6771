import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Clock, TimerHandle } from '../base/clock.js'
import { ProtocolError, TransportError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import { nextTurn } from '../base/next-turn.js'
import { parseAddress } from '../transport/address.js'
import { FrameKind, FrameReader, encodeFrame, type Frame } from './link-frames.js'
import { asRouterMessage, asRouterReply, asRouterRequest, type RouterMessage, type RouterReply, type RouterRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'

export interface TcpPeerBusOptions {
  self: string
  host: string
  port: number
  clock: Clock
  log: Logger
  /** Largest frame accepted or sent, bytes. */
  maxFrameBytes?: number
  /** Bytes waiting to be written to one peer beyond which messages are dropped and requests refused. */
  maxQueuedBytes?: number
  /** A connection that has not said hello within this long is closed, ms. */
  helloTimeoutMs?: number
  /**
   * The ring's gossip keys, primary first (read at every connection, so a key rotation applies).
   * With keys, a connection must prove it holds one: the accepting hub sends a random nonce and
   * the dialing hub's hello carries HMAC-SHA256(key, nonce ‖ id). Without: no authentication.
   */
  authKeys?: () => readonly Uint8Array[]
}

export interface BusStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** One-way messages dropped: no connection possible, or the peer's queue full. */
  dropped: number
  /** Frames or connections refused as malformed, by reason. */
  rejected: Record<string, number>
}

const NONCE_BYTES = 16

/** HMAC-SHA256(key, nonce ‖ UTF-8 id): what a dialing hub shows to prove it holds a ring key. */
function helloMac(key: Uint8Array, nonce: Uint8Array, id: string): Uint8Array {
  return createHmac('sha256', key).update(nonce).update(id, 'utf8').digest()
}

function macMatches(given: unknown, expected: Uint8Array): boolean {
  return given instanceof Uint8Array && given.length === expected.length && timingSafeEqual(given, expected)
}

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000

interface Pending { resolve: (reply: RouterReply) => void, reject: (err: Error) => void, timer: TimerHandle }

/** This hub's connection to one peer, over which it sends its messages and requests. */
interface Outgoing {
  socket: Socket
  connected: boolean
  queue: Buffer[]
  queuedBytes: number
  flushScheduled: boolean
  pending: Map<number, Pending>
}

/**
 * The router link over TCP (DESIGN §4). Each hub dials each peer it talks to and sends its
 * messages and requests on that connection; replies come back on it. So between two hubs there
 * is one connection per direction, each carrying one sender's frames in order. Frames written
 * within one event-loop turn go out in one write (batching); the bytes queued for a peer are
 * bounded (`maxQueuedBytes`): beyond it one-way messages are dropped and counted, and requests
 * fail `overloaded`. A dropped connection fails its pending requests (`closed`); the next send
 * dials again, after a backoff that doubles from 100 ms to 5 s while dialing keeps failing.
 * With gossip keys a connection must prove it holds one (`authKeys`); without, it trusts its
 * network as the plaintext gossip port does (docs/routing.md).
 */
export class TcpPeerBus implements PeerBus {
  readonly self: string
  readonly stats: BusStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, rejected: {} }
  readonly #opts: Required<TcpPeerBusOptions>
  readonly #server: Server
  readonly #out = new Map<string, Outgoing>()
  readonly #retry = new Map<string, { atMs: number, delayMs: number }>()
  readonly #incoming = new Set<Socket>()
  #peers: ReadonlyMap<string, string> = new Map()
  #nextId = 1
  #closed = false
  #onMessage: (from: string, message: RouterMessage) => void = () => {}
  #onRequest: (from: string, request: RouterRequest) => Promise<RouterReply> = () => Promise.reject(new Error('no request handler'))

  constructor(opts: TcpPeerBusOptions) {
    this.self = opts.self
    this.#opts = { maxFrameBytes: 8 * 1024 * 1024, maxQueuedBytes: 8 * 1024 * 1024, helloTimeoutMs: 10_000, authKeys: () => [], ...opts }
    this.#server = createServer((socket) => this.#accept(socket))
  }

  /** Listens; resolves with the bound port. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject)
        const address = this.#server.address()
        resolve(typeof address === 'object' && address ? address.port : this.#opts.port)
      })
    })
  }

  setPeers(peers: ReadonlyMap<string, string>): void {
    this.#peers = peers
    for (const id of [...this.#out.keys()]) if (!peers.has(id)) this.#drop(id, new TransportError('closed', `${id} left the ring`))
  }

  onMessage(handler: (from: string, message: RouterMessage) => void): void { this.#onMessage = handler }
  onRequest(handler: (from: string, request: RouterRequest) => Promise<RouterReply>): void { this.#onRequest = handler }

  send(peer: string, message: RouterMessage): boolean {
    const out = this.#connection(peer)
    if (!out || !this.#enqueue(out, encodeFrame(FrameKind.message, 0, message))) {
      this.stats.dropped++
      return false
    }
    return true
  }

  request(peer: string, request: RouterRequest, timeoutMs: number): Promise<RouterReply> {
    return new Promise((resolve, reject) => {
      const out = this.#connection(peer)
      if (!out) return reject(new TransportError('unreachable', `no connection to ${peer}`))
      const id = this.#nextId = (this.#nextId % 0xffff_ffff) + 1
      const frame = encodeFrame(FrameKind.request, id, request)
      if (!this.#enqueue(out, frame)) return reject(new TransportError('overloaded', `send queue to ${peer} is full`))
      const timer = this.#opts.clock.setTimeout(() => {
        out.pending.delete(id)
        reject(new TransportError('timeout', `request to ${peer} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      out.pending.set(id, { resolve, reject, timer })
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const id of [...this.#out.keys()]) this.#drop(id, new TransportError('closed', 'router closed'))
    for (const s of this.#incoming) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #connection(peer: string): Outgoing | undefined {
    if (this.#closed) return undefined
    const existing = this.#out.get(peer)
    if (existing) return existing
    const address = this.#peers.get(peer)
    if (!address) return undefined
    const retry = this.#retry.get(peer)
    if (retry && this.#opts.clock.now() < retry.atMs) return undefined
    const { host, port } = parseAddress(address)
    const socket = connect({ host, port, noDelay: true })
    const keys = this.#opts.authKeys()
    const out: Outgoing = { socket, connected: false, queue: keys.length > 0 ? [] : [encodeFrame(FrameKind.hello, 0, { id: this.self })], queuedBytes: 0, flushScheduled: false, pending: new Map() }
    this.#out.set(peer, out)
    const reader = new FrameReader(this.#opts.maxFrameBytes)
    const ready = (): void => {
      out.connected = true
      this.#retry.delete(peer)
      this.#flush(out)
    }
    // Without keys the hello goes at once; with keys it answers the peer's challenge.
    socket.on('connect', () => { if (keys.length === 0) ready() })
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length
      try {
        for (const frame of reader.push(chunk)) {
          if (!out.connected && frame.kind === FrameKind.challenge && keys.length > 0) {
            const nonce = (frame.body as { nonce?: unknown } | null)?.nonce
            if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw new ProtocolError('malformed', 'bad router challenge')
            out.queue.unshift(encodeFrame(FrameKind.hello, 0, { id: this.self, mac: helloMac(keys[0] as Uint8Array, nonce, this.self) }))
            ready()
          } else {
            this.#onReply(out, frame)
          }
        }
      } catch (err) {
        this.#reject(err, { peer })
        socket.destroy()
      }
    })
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('close', () => {
      if (!out.connected) {
        const delayMs = Math.min(RECONNECT_MAX_MS, (retry?.delayMs ?? RECONNECT_MIN_MS / 2) * 2)
        this.#retry.set(peer, { atMs: this.#opts.clock.now() + delayMs, delayMs })
      }
      this.#drop(peer, new TransportError(out.connected ? 'closed' : 'unreachable', `connection to ${peer} (${address}) ${out.connected ? 'closed' : 'failed'}`), out)
    })
    return out
  }

  #enqueue(out: Outgoing, frame: Buffer): boolean {
    if (frame.length > this.#opts.maxFrameBytes) return false
    if (out.queuedBytes + out.socket.writableLength + frame.length > this.#opts.maxQueuedBytes) return false
    out.queue.push(frame)
    out.queuedBytes += frame.length
    if (out.connected && !out.flushScheduled) {
      out.flushScheduled = true
      nextTurn(() => this.#flush(out))
    }
    return true
  }

  #flush(out: Outgoing): void {
    out.flushScheduled = false
    if (out.queue.length === 0 || out.socket.destroyed) return
    const bytes = out.queue.length === 1 ? out.queue[0] as Buffer : Buffer.concat(out.queue)
    this.stats.framesOut += out.queue.length
    this.stats.bytesOut += bytes.length
    out.queue = []
    out.queuedBytes = 0
    out.socket.write(bytes)
  }

  #onReply(out: Outgoing, frame: Frame): void {
    this.stats.framesIn++
    const pending = out.pending.get(frame.id)
    if (!pending) return // late: it timed out
    out.pending.delete(frame.id)
    this.#opts.clock.clearTimeout(pending.timer)
    if (frame.kind === FrameKind.replyError) {
      const reason = (frame.body as { reason?: unknown } | null)?.reason
      pending.reject(new TransportError('closed', `peer failed the request: ${String(reason)}`))
      return
    }
    try {
      pending.resolve(asRouterReply(frame.body))
    } catch (err) {
      this.#reject(err, {})
      pending.reject(err as Error)
    }
  }

  #drop(peer: string, error: Error, only?: Outgoing): void {
    const out = this.#out.get(peer)
    if (!out || (only && out !== only)) return
    this.#out.delete(peer)
    out.socket.destroy()
    for (const p of out.pending.values()) {
      this.#opts.clock.clearTimeout(p.timer)
      p.reject(error)
    }
    out.pending.clear()
  }

  /** A connection from a peer: hello first, then its messages and requests. */
  #accept(socket: Socket): void {
    if (this.#closed) { socket.destroy(); return }
    socket.setNoDelay(true)
    this.#incoming.add(socket)
    const reader = new FrameReader(this.#opts.maxFrameBytes)
    let from: string | undefined
    const helloTimer = this.#opts.clock.setTimeout(() => { this.#reject(new ProtocolError('idle', 'no hello'), {}); socket.destroy() }, this.#opts.helloTimeoutMs)
    helloTimer.unref()
    const keys = this.#opts.authKeys()
    const nonce = keys.length > 0 ? randomBytes(NONCE_BYTES) : undefined
    if (nonce) socket.write(encodeFrame(FrameKind.challenge, 0, { nonce }))
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length
      try {
        for (const frame of reader.push(chunk)) {
          this.stats.framesIn++
          if (from === undefined) {
            const hello = frame.body as { id?: unknown, mac?: unknown } | null
            const id = hello?.id
            if (frame.kind !== FrameKind.hello || typeof id !== 'string' || id.length === 0) throw new ProtocolError('malformed', 'router connection must start with hello')
            if (nonce && !keys.some((key) => macMatches(hello?.mac, helloMac(key, nonce, id)))) throw new ProtocolError('auth-failed', `router hello from ${id} does not prove a gossip key`)
            from = id
            this.#opts.clock.clearTimeout(helloTimer)
          } else if (frame.kind === FrameKind.message) {
            this.#onMessage(from, asRouterMessage(frame.body))
          } else if (frame.kind === FrameKind.request) {
            this.#serve(socket, from, frame)
          } else {
            throw new ProtocolError('malformed', `unexpected router frame kind ${frame.kind}`)
          }
        }
      } catch (err) {
        this.#reject(err, { from })
        socket.destroy()
      }
    })
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('close', () => {
      this.#opts.clock.clearTimeout(helloTimer)
      this.#incoming.delete(socket)
    })
  }

  #serve(socket: Socket, from: string, frame: Frame): void {
    const request = asRouterRequest(frame.body)
    const reply = (kind: FrameKind, body: unknown): void => {
      if (socket.destroyed) return
      // What the handler sent to other hubs (a publish's deliveries) goes to the kernel before
      // its reply (the publish's ack): should this process die right after, the deliveries are
      // still on their way, so an acknowledged message cannot miss its subscribers.
      for (const out of this.#out.values()) if (out.connected && out.queue.length > 0) this.#flush(out)
      const bytes = encodeFrame(kind, frame.id, body)
      this.stats.framesOut++
      this.stats.bytesOut += bytes.length
      socket.write(bytes)
    }
    this.#onRequest(from, request).then(
      (answer) => reply(FrameKind.reply, answer),
      (err: unknown) => reply(FrameKind.replyError, { reason: err instanceof Error ? err.message : String(err) }),
    )
  }

  #reject(err: unknown, context: Record<string, unknown>): void {
    const reason = err instanceof ProtocolError ? err.reason : 'error'
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1
    this.#opts.log.warn({ err, ...context }, 'router: bad input from a peer; connection closed')
  }
}
