import { randomBytes } from 'node:crypto'
import type { Server, Socket } from 'node:net'
import type { Clock, TimerHandle } from '../base/clock.js'
import { nextTurn } from '../base/next-turn.js'
import { ConfigError, ProtocolError, TransportError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import { AcceptorHandshake, DialerHandshake, MAX_BEAT_MS, type LinkPeer } from './link-handshake.js'
import { FrameKind, FrameReader, encodeFrame, type Frame } from './link-frames.js'
import { STABLE_LINK_MS, dials, redialDelayMs } from './link-pairing.js'
import { dialLink, listenLink, type LinkTls } from './link-tls.js'
import { watchLink } from './link-watch.js'
import { asRouterMessages, asRouterRequest, type RouterMessage, type RouterReply, type RouterRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import { PeerLink } from './peer-link.js'
import { packRequest } from './request-rows.js'

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
  /** A connection whose handshake (TLS, hello, welcome) has not finished within this long is closed, ms. */
  helloTimeoutMs?: number
  /**
   * How long frames for a peer that dials this hub (a smaller id) wait for its connection, ms;
   * then they are dropped (requests fail `unreachable`), and so is whatever is sent to it until
   * it connects. A peer whose connection closed counts as not connected at once.
   */
  dialWaitMs?: number
  /**
   * The ring's gossip keys, primary first (read at every connection, so a key rotation applies).
   * With keys, both ends of a connection prove they hold one (`link-handshake.ts`). Without: no
   * authentication.
   */
  authKeys?: () => readonly Uint8Array[]
  /** TLS with the cluster CA on every link connection; plain TCP when undefined. */
  tls?: LinkTls
  /**
   * Silent links: this hub sends a beat when it has written nothing to a peer for `beatMs`
   * (announced in its hello or welcome; 0: no beats, none announced, as hubs before them), and
   * closes a link to a peer that announced beats once nothing came from it for `silentLinkMs`
   * (at least three of the peer's beats), ms.
   */
  beatMs?: number
  silentLinkMs?: number
}

/** A peer membership names, and whether this hub has an open link to it: since when (wall ms). */
export interface LinkState { peer: string, up: boolean, sinceMs: number }

/** Defaults of the silent-link watch, ms: a beat a second, a link closed after 6 s of silence. */
export const BEAT_MS = 1_000
export const SILENT_LINK_MS = 6_000
const MAX_SILENT_LINK_MS = 10 * 60_000

export interface BusStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** One-way messages dropped: no connection possible, the peer's queue full, or the connection lost first. */
  dropped: number
  /** Frames or connections refused as malformed, unauthenticated or failing TLS, by reason. */
  rejected: Record<string, number>
  /**
   * Messages and requests of a type this version does not know, from an authenticated peer (a
   * newer hub): counted and dropped (a request is answered with an error), the link stays.
   */
  unknownTypes: number
  /** Connections this hub dialed, and TCP connections it accepted (handshake done or not). */
  dialed: number
  accepted: number
  /** Links opened (handshake done, either end). */
  linked: number
  /** Links closed because their peer connected again (a restart, or a redial over a half-open connection). */
  replaced: number
  /** Links closed because nothing came from a peer that beats for `silentLinkMs` (a connection lost without a reset). */
  silent: number
}

/**
 * The router link over TCP, optionally TLS (DESIGN §4): one connection per pair of hubs. The hub
 * with the smaller id dials every peer it learns of and keeps the connection, dialing again after
 * it drops (at once after a link that was up a while, else backing off from 100 ms to 5 s); the
 * other accepts and waits (`dialWaitMs`). Both send their messages, requests and replies on that
 * one connection, so everything from X to Y leaves in the order it was sent. A newer connection
 * from the same peer (a restart, or a redial over a half-open socket) replaces the link: its
 * pending requests fail `closed`. Frames written within one event-loop turn go out in one write;
 * the bytes queued for a peer are bounded (`maxQueuedBytes`): beyond, one-way messages are dropped
 * and counted and requests fail `overloaded`. The handshake names both ends and, with gossip
 * keys, authenticates both (`link-handshake.ts`); TLS with a cluster CA runs beneath it (`tls`).
 */
export class TcpPeerBus implements PeerBus {
  readonly self: string
  /** This run of the hub: a peer that sees another boot for the same id knows it restarted. */
  readonly boot = randomBytes(8).toString('hex')
  readonly stats: BusStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, rejected: {}, unknownTypes: 0, dialed: 0, accepted: 0, linked: 0, replaced: 0, silent: 0 }
  readonly #opts: Required<Omit<TcpPeerBusOptions, 'tls'>> & { tls: LinkTls | undefined }
  readonly #server: Server
  readonly #links = new Map<string, PeerLink>()
  /** Dialing end: the backoff for each peer, and the timer of the next dial. */
  readonly #retry = new Map<string, { delayMs: number, timer: TimerHandle | undefined }>()
  /** Accepting end: peers whose connection closed or never came; sends to them fail until they connect. */
  readonly #down = new Set<string>()
  readonly #sockets = new Set<Socket>()
  #peers: ReadonlyMap<string, string> = new Map()
  #nextId = 1
  /** Links with replies queued this turn, written together by #flushReplies. */
  readonly #replying = new Set<PeerLink>()
  #replyFlushScheduled = false
  #closed = false
  #onMessage: (from: string, message: RouterMessage) => void = () => {}
  #onRequest: (from: string, request: RouterRequest) => Promise<RouterReply> = () => Promise.reject(new Error('no request handler'))
  #onLinkOpen: (peer: string, again: boolean, boot: string) => void = () => {}
  /** The boot of each peer's last link: a link to the same boot again is a connection that came back. */
  readonly #boots = new Map<string, string>()
  /** Each peer's link up or down since when (wall ms), for the peers membership names. */
  readonly #linkSince = new Map<string, { up: boolean, sinceMs: number }>()
  /** This hub as its hellos and welcomes name it. */
  readonly #me: LinkPeer
  /** The silent-link watch; none when this hub does not beat (no link then beats: see #opened). */
  readonly #watch: TimerHandle | undefined

  constructor(opts: TcpPeerBusOptions) {
    this.self = opts.self
    this.#opts = { maxFrameBytes: 8 * 1024 * 1024, maxQueuedBytes: 8 * 1024 * 1024, helloTimeoutMs: 10_000, dialWaitMs: 5_000, authKeys: () => [], tls: undefined, beatMs: BEAT_MS, silentLinkMs: SILENT_LINK_MS, ...opts }
    const { beatMs, silentLinkMs } = this.#opts
    if (!Number.isInteger(beatMs) || beatMs < 0 || beatMs > MAX_BEAT_MS) throw new ConfigError('beatMs', `must be an integer from 0 to ${MAX_BEAT_MS}, got ${beatMs}`)
    if (!Number.isInteger(silentLinkMs) || silentLinkMs < 1 || silentLinkMs > MAX_SILENT_LINK_MS) throw new ConfigError('silentLinkMs', `must be an integer from 1 to ${MAX_SILENT_LINK_MS}, got ${silentLinkMs}`)
    this.#me = beatMs > 0 ? { id: this.self, boot: this.boot, beatMs } : { id: this.self, boot: this.boot }
    // A pass a quarter of the silence allowed (and twice a beat): a silent link closes within two
    // passes of the silence allowed, 1.5 × silentLinkMs at most.
    if (beatMs > 0) {
      this.#watch = this.#opts.clock.setInterval(() => this.#watchLinks(beatMs), Math.max(10, Math.min(silentLinkMs / 4, beatMs / 2)))
      this.#watch.unref()
    }
    this.#server = listenLink({
      tls: this.#opts.tls,
      handshakeTimeoutMs: this.#opts.helloTimeoutMs,
      onSocket: (socket) => this.#accept(socket),
      onRawSocket: (socket) => { this.stats.accepted++; this.#track(socket) },
      onTlsError: (err) => this.#reject(new ProtocolError('tls', 'router TLS handshake failed', { cause: err }), {}),
    })
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

  /** Where each peer's link listens. The dialing end connects to every new peer (and to a new address) at once. */
  setPeers(peers: ReadonlyMap<string, string>): void {
    const before = this.#peers
    this.#peers = peers
    for (const id of before.keys()) {
      if (peers.has(id)) continue
      const link = this.#links.get(id)
      if (link) this.#drop(link, new TransportError('closed', `${id} left the ring`))
      this.#opts.clock.clearTimeout(this.#retry.get(id)?.timer)
      this.#retry.delete(id)
      this.#down.delete(id)
      this.#boots.delete(id) // one declared dead and back is PeerReplay's (replay to a returning hub)
      this.#linkSince.delete(id)
    }
    for (const id of peers.keys()) if (!this.#linkSince.has(id)) this.#linkSince.set(id, { up: this.#links.get(id)?.open === true, sinceMs: this.#opts.clock.now() })
    if (this.#closed) return
    for (const [id, address] of peers) {
      const moved = before.get(id) !== address
      if (!dials(this.self, id)) {
        if (moved) this.#down.delete(id) // new to us, or restarted elsewhere: worth waiting for
        continue
      }
      const link = this.#links.get(id)
      if (link && (link.open || !moved)) continue
      if (link) this.#drop(link, new TransportError('unreachable', `${id} moved to ${address}`))
      const retry = this.#retry.get(id)
      if (retry?.timer !== undefined && !moved) continue
      if (retry) { this.#opts.clock.clearTimeout(retry.timer); retry.timer = undefined; retry.delayMs = 0 }
      this.#dial(id)
    }
  }

  onMessage(handler: (from: string, message: RouterMessage) => void): void { this.#onMessage = handler }
  onRequest(handler: (from: string, request: RouterRequest) => Promise<RouterReply>): void { this.#onRequest = handler }
  onLinkOpen(handler: (peer: string, again: boolean, boot: string) => void): void { this.#onLinkOpen = handler }

  send(peer: string, message: RouterMessage): boolean {
    const link = this.#linkFor(peer)
    const queued = link !== undefined && (message.t === 'deliver'
      ? link.enqueueDelivery(message, this.#opts.maxQueuedBytes, this.#opts.maxFrameBytes)
      : this.#enqueue(link, encodeFrame(FrameKind.message, 0, message)))
    if (!queued) {
      this.stats.dropped++
      return false
    }
    return true
  }

  request(peer: string, request: RouterRequest, timeoutMs: number): Promise<RouterReply> {
    return new Promise((resolve, reject) => {
      const link = this.#linkFor(peer)
      if (!link) return reject(new TransportError('unreachable', `no connection to ${peer}`))
      const id = this.#nextId = (this.#nextId % 0xffff_ffff) + 1
      if (!this.#enqueue(link, encodeFrame(FrameKind.request, id, packRequest(request)))) return reject(new TransportError('overloaded', `send queue to ${peer} is full`))
      link.await(id, timeoutMs, resolve, reject)
    })
  }

  /**
   * Every peer membership names, with whether its link is open and since when (wall ms): a
   * peer gossip reaches and this hub cannot link to shows here (docs/routing.md "Link states").
   */
  linkStates(): LinkState[] {
    return [...this.#linkSince].map(([peer, { up, sinceMs }]) => ({ peer, up, sinceMs })).sort((a, b) => (a.peer < b.peer ? -1 : 1))
  }

  /** Peers with an open link (handshake done). */
  linkedPeers(): string[] {
    return [...this.#links.values()].filter((l) => l.open).map((l) => l.peer)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#opts.clock.clearInterval(this.#watch)
    for (const link of [...this.#links.values()]) this.#drop(link, new TransportError('closed', 'router closed'))
    for (const retry of this.#retry.values()) this.#opts.clock.clearTimeout(retry.timer)
    this.#retry.clear()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** The link to send on: open, being dialed, or waiting for the peer to dial; none if the peer cannot be reached now. */
  #linkFor(peer: string): PeerLink | undefined {
    if (this.#closed) return undefined
    const existing = this.#links.get(peer)
    if (existing) return existing
    if (!this.#peers.has(peer)) return undefined
    if (dials(this.self, peer)) return this.#retry.get(peer)?.timer === undefined ? this.#dial(peer) : undefined
    if (this.#down.has(peer)) return undefined
    const link = this.#newLink(peer)
    link.waitTimer = this.#opts.clock.setTimeout(() => {
      if (this.#links.get(peer) !== link || link.open) return
      this.#drop(link, new TransportError('unreachable', `${peer} did not connect within ${this.#opts.dialWaitMs} ms`))
      this.#down.add(peer)
    }, this.#opts.dialWaitMs)
    link.waitTimer.unref()
    return link
  }

  #newLink(peer: string): PeerLink {
    const link = new PeerLink(peer, this.#opts.clock, this.stats)
    this.#links.set(peer, link)
    return link
  }

  /** Dialing end: connects to `peer`, says hello, and opens the link on its welcome. */
  #dial(peer: string): PeerLink | undefined {
    const address = this.#peers.get(peer)
    if (this.#closed || address === undefined) return undefined
    let dialed: ReturnType<typeof dialLink>
    try {
      dialed = dialLink(address, this.#opts.tls, () => handshake.start())
    } catch (err) {
      this.#opts.log.warn({ err, peer, address }, 'router: cannot dial peer')
      return undefined
    }
    const { socket } = dialed
    const handshake = new DialerHandshake(this.#me, this.#opts.authKeys(), peer, (kind, body) => this.#write(socket, encodeFrame(kind, 0, body)))
    this.stats.dialed++
    this.#track(socket)
    const link = this.#newLink(peer)
    link.socket = socket
    const deadline = this.#opts.clock.setTimeout(() => socket.destroy(), this.#opts.helloTimeoutMs)
    deadline.unref()
    this.#read(socket, peer, () => link.heard(), (frame) => {
      if (link.open) return this.#dispatch(link, frame)
      const welcome = handshake.receive(frame)
      if (!welcome) return
      this.#opts.clock.clearTimeout(deadline)
      this.#opened(link, socket, welcome)
    })
    socket.on('error', (err) => {
      // The TCP connection came up but TLS did not (a certificate not from the cluster CA, a
      // peer without TLS): a refusal to count, unlike an unreachable peer.
      if (this.#opts.tls !== undefined && dialed.tcpUp() && !link.open) this.#reject(new ProtocolError('tls', `router TLS to ${peer} failed`, { cause: err }), { peer })
    })
    socket.on('close', () => {
      this.#opts.clock.clearTimeout(deadline)
      if (this.#links.get(peer) !== link) return
      const wasOpen = link.open
      this.#drop(link, new TransportError(wasOpen ? 'closed' : 'unreachable', `connection to ${peer} (${address}) ${wasOpen ? 'closed' : 'failed'}`))
      this.#redial(peer, wasOpen && this.#opts.clock.monotonicMs() - link.openedMs >= STABLE_LINK_MS)
    })
    return link
  }

  /** Dialing end: dials `peer` again after `redialDelayMs`. */
  #redial(peer: string, wasStable: boolean): void {
    if (this.#closed || !this.#peers.has(peer) || this.#links.has(peer)) return
    const retry = this.#retry.get(peer) ?? { delayMs: 0, timer: undefined }
    this.#retry.set(peer, retry)
    retry.delayMs = redialDelayMs(retry.delayMs, wasStable)
    this.#opts.clock.clearTimeout(retry.timer)
    retry.timer = this.#opts.clock.setTimeout(() => {
      retry.timer = undefined
      if (!this.#links.has(peer)) this.#dial(peer)
    }, retry.delayMs)
    retry.timer.unref()
  }

  /**
   * Accepting end: a connection from a peer. Challenge (with keys), hello, welcome, then frames
   * both ways. The newest connection from a peer replaces its link: the peer dialed again, so it
   * restarted or saw the old connection fail.
   */
  #accept(socket: Socket): void {
    if (this.#closed) { socket.destroy(); return }
    this.#track(socket)
    socket.setNoDelay(true)
    const handshake = new AcceptorHandshake(this.#me, this.#opts.authKeys(), (kind, body) => this.#write(socket, encodeFrame(kind, 0, body)))
    const helloTimer = this.#opts.clock.setTimeout(() => { this.#reject(new ProtocolError('idle', 'no hello'), {}); socket.destroy() }, this.#opts.helloTimeoutMs)
    helloTimer.unref()
    let link: PeerLink | undefined
    const reader = this.#read(socket, () => link?.peer, () => link?.heard(), (frame) => {
      if (link) return this.#dispatch(link, frame)
      const hello = handshake.receive(frame)
      if (!dials(hello.id, this.self)) throw new ProtocolError('wrong-dialer', `${hello.id} dialed ${this.self}; the smaller id dials`)
      this.#opts.clock.clearTimeout(helloTimer)
      handshake.welcome(hello)
      const existing = this.#links.get(hello.id)
      // A link not open yet holds what waited for this peer; an open one is replaced.
      const waiting = existing && !existing.open ? existing : undefined
      if (existing?.open) {
        this.stats.replaced++
        this.#opts.log.info({ peer: hello.id, boot: hello.boot }, 'router: a new connection from the peer replaces its link')
        this.#drop(existing, new TransportError('closed', `${hello.id} connected again (boot ${hello.boot})`))
      }
      link = waiting ?? this.#newLink(hello.id)
      this.#down.delete(hello.id)
      this.#opened(link, socket, hello)
    })
    // A connection that hangs up inside a frame before its hello was whole: cut short, counted.
    // (Once linked, a peer killed mid-write ends the same way: that is a lost peer, not bad input.)
    socket.on('end', () => { if (!link && reader.buffered > 0) this.#reject(new ProtocolError('truncated', 'connection ended inside a frame before the hello'), {}) })
    socket.on('close', () => {
      this.#opts.clock.clearTimeout(helloTimer)
      if (!link || this.#links.get(link.peer) !== link) return
      this.#drop(link, new TransportError('closed', `connection from ${link.peer} closed`))
      this.#down.add(link.peer)
    })
  }

  #opened(link: PeerLink, socket: Socket, peer: LinkPeer): void {
    this.stats.linked++
    this.#opts.log.debug({ peer: peer.id, boot: peer.boot }, 'router: link open')
    // Beats both ways only when both ends announced them: each then beats, and expects the other's.
    link.opened(socket, this.#me.beatMs !== undefined ? peer.beatMs : undefined)
    if (this.#peers.has(peer.id)) this.#linkSince.set(peer.id, { up: true, sinceMs: this.#opts.clock.now() })
    const again = this.#boots.get(peer.id) === peer.boot
    this.#boots.set(peer.id, peer.boot)
    this.#onLinkOpen(peer.id, again, peer.boot)
  }

  /** Silent links: one pass of the watch over every link that beats (`link-watch.ts`). */
  #watchLinks(beatMs: number): void {
    const now = this.#opts.clock.monotonicMs()
    for (const link of [...this.#links.values()]) {
      if (!link.open || link.peerBeatMs === undefined) continue
      const verdict = watchLink({ sentMs: link.sentMs, heardMs: link.heardMs, peerBeatMs: link.peerBeatMs, hasQueued: link.hasQueued, silentAt: link.silentAt }, now, beatMs, this.#opts.silentLinkMs)
      if (verdict.beat) {
        link.push(encodeFrame(FrameKind.beat, 0, null))
        link.flush()
      }
      link.silentAt = verdict.silentAt
      if (verdict.close) this.#closeSilent(link, now)
    }
  }

  #closeSilent(link: PeerLink, now: number): void {
    const silentMs = now - link.heardMs
    this.stats.silent++
    this.#opts.log.warn({ peer: link.peer, silentMs: Math.round(silentMs) }, 'router: nothing from the peer for too long; link closed')
    this.#drop(link, new TransportError('closed', `nothing from ${link.peer} for ${Math.round(silentMs)} ms`))
    // A link that was up a while is dialed again at once (a NAT that forgot it lets a new one through).
    if (dials(this.self, link.peer)) this.#redial(link.peer, now - link.openedMs >= STABLE_LINK_MS)
    else this.#down.add(link.peer)
  }

  #dispatch(link: PeerLink, frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.message: {
        const messages = this.#known(() => asRouterMessages(frame.body))
        for (const m of messages ?? []) this.#onMessage(link.peer, m)
        return
      }
      case FrameKind.request: return this.#serve(link, frame)
      case FrameKind.reply:
      case FrameKind.replyError: return link.settle(frame)
      case FrameKind.beat: return // heard: that is all it is for
      default: throw new ProtocolError('malformed', `unexpected router frame kind ${frame.kind}`)
    }
  }

  /** Reads frames off `socket` into `handle` (`heard` on every read); bad input is counted and closes the connection. */
  #read(socket: Socket, peer: string | (() => string | undefined), heard: () => void, handle: (frame: Frame) => void): FrameReader {
    const reader = new FrameReader(this.#opts.maxFrameBytes)
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length
      heard()
      try {
        for (const frame of reader.push(chunk)) {
          if (socket.destroyed) return
          this.stats.framesIn++
          handle(frame)
        }
      } catch (err) {
        this.#reject(err, { peer: typeof peer === 'string' ? peer : peer() })
        socket.destroy()
      }
    })
    return reader
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket)
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('close', () => this.#sockets.delete(socket))
  }

  #enqueue(link: PeerLink, frame: Buffer): boolean {
    return frame.length <= this.#opts.maxFrameBytes && link.enqueue(frame, this.#opts.maxQueuedBytes)
  }

  /** A handshake frame, straight to the socket. */
  #write(socket: Socket, bytes: Buffer): void {
    this.stats.framesOut++
    this.stats.bytesOut += bytes.length
    socket.write(bytes)
  }

  /**
   * `parse`'s result; undefined for a type this version does not know (STYLE §6: counted and
   * dropped, so a newer hub's additions do not break the link). Other bad input throws.
   */
  #known<T>(parse: () => T): T | undefined {
    try {
      return parse()
    } catch (err) {
      if (!(err instanceof ProtocolError) || err.reason !== 'unknown-type') throw err
      this.stats.unknownTypes++
      this.#opts.log.debug({ err }, 'router: a message type this version does not know; dropped')
      return undefined
    }
  }

  #serve(link: PeerLink, frame: Frame): void {
    const request = this.#known(() => asRouterRequest(frame.body))
    const socket = link.socket
    if (!request) return this.#reply(link, socket, FrameKind.replyError, frame.id, { reason: 'a request type this hub does not know' })
    this.#onRequest(link.peer, request).then(
      (answer) => this.#reply(link, socket, FrameKind.reply, frame.id, answer),
      (err: unknown) => this.#reply(link, socket, FrameKind.replyError, frame.id, { reason: err instanceof Error ? err.message : String(err) }),
    )
  }

  /**
   * A reply goes on the connection its request came on, behind what was sent to that peer before
   * it; if that connection is gone, so is the requester's wait.
   */
  #reply(link: PeerLink, socket: Socket | undefined, kind: FrameKind, id: number, body: unknown): void {
    if (this.#links.get(link.peer) !== link || link.socket !== socket || socket?.destroyed !== false) return
    link.push(encodeFrame(kind, id, body))
    this.#replying.add(link)
    if (!this.#replyFlushScheduled) {
      this.#replyFlushScheduled = true
      nextTurn(() => this.#flushReplies())
    }
  }

  /**
   * Writes the turn's replies, one write per link, after everything else queued: what the
   * handlers sent to other hubs (a publish's deliveries) goes to the kernel before the replies
   * (the publishes' acks), so should this process die right after, the deliveries are on their
   * way and an acknowledged message cannot miss its subscribers.
   */
  #flushReplies(): void {
    this.#replyFlushScheduled = false
    for (const other of this.#links.values()) if (other.open && other.hasQueued && !this.#replying.has(other)) other.flush()
    for (const link of this.#replying) if (link.open) link.flush()
    this.#replying.clear()
  }

  /** Closes the link: its connection, its queue, its pending requests (failed with `error`). */
  #drop(link: PeerLink, error: Error): void {
    if (this.#links.get(link.peer) === link) this.#links.delete(link.peer)
    if (link.open && this.#linkSince.get(link.peer)?.up === true) this.#linkSince.set(link.peer, { up: false, sinceMs: this.#opts.clock.now() })
    link.close(error)
  }

  #reject(err: unknown, context: Record<string, unknown>): void {
    const reason = err instanceof ProtocolError ? err.reason : 'error'
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1
    this.#opts.log.warn({ err, ...context }, 'router: bad input from a peer; connection closed')
  }
}
