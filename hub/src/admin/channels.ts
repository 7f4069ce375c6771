import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Counter, Gauge, type Registry } from 'prom-client'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { ChannelClientFrame, ChannelOffset } from '../contract/channels.js'
import { aclAllows, type Identity } from '../mqtt/acl.js'
import type { CredentialChecker } from '../mqtt/auth.js'
import { certificateIdentity, certificateUser } from '../mqtt/server-tls.js'
import { classifyFilter } from '../ring/keys.js'
import { topicMatches } from '../ring/topic-match.js'
import type { LogEntry, Offset } from '../store/topic-log.js'
import { readKeyLog } from '../routing/log-reach.js'
import type { RetainedMessage } from '../routing/router.js'
import type { AdminServer, UpgradeHandler } from './admin-server.js'
import { maxChannelFrameBytes, parseChannelFrame, payloadOfFrame } from './channel-frames.js'
import { PingSweep, rawText } from './ws-ping.js'
import { ChannelSession, Join, type BusListener, type BusPacket, type ChannelInput } from './channel-session.js'
import type { ChannelPresence } from './channel-presence.js'

export const CHANNELS_PATH = '/channels'
/** Every connection is pinged this often; one that did not answer the previous ping is closed. */
export const CHANNEL_PING_MS = 30_000
/** Error frames one connection may earn before it is closed (1008). */
export const MAX_CHANNEL_ERRORS = 20
/** Joins one connection may hold. */
export const MAX_JOINS = 1_000
/** Log entries read per request while a join catches up from an offset (at most `MAX_LOG_READ`, what a read returns at most: a shorter page ends the catch-up). */
const CATCH_UP_PAGE = 1_000

export interface ChannelDeps {
  self: string
  admin: AdminServer
  /** The hub's message bus (RingEmitter.mq): `on` registers the filter's interest with the ring. */
  bus: {
    on(filter: string, listener: BusListener, done: () => void): unknown
    removeListener(filter: string, listener: BusListener, done: () => void): unknown
  }
  /** aedes: a publish runs its pipeline (the `publish` event, the ring) and calls back once acked. */
  publish(packet: { cmd: 'publish', topic: string, payload: Buffer, qos: 0 | 1, retain: boolean, dup: false }, done: (err?: Error) => void): void
  router: {
    retainedFor(filters: readonly string[]): Promise<RetainedMessage[]>
    logSince(key: string, from: Offset, limit: number): Promise<{ owner: string, entries: LogEntry[], oldest: Offset | null }>
  }
  presence: ChannelPresence
  credentials: CredentialChecker
  allowAnonymous: boolean
  keyDepth: number
  maxPacketBytes: number
  /** Publishes one connection may have in flight (the MQTT inbound inflight bound). */
  maxInflight: number
  registry: Registry
  clock: Clock
  log: Logger
}

/**
 * The JSON channel endpoint (issue 8, docs/channels.md): `GET /channels` upgrades to a
 * WebSocket whose clients join MQTT filters, publish, and resume from an offset, with MQTT's
 * semantics — a join is a subscription of this hub (routed exactly as MQTT's: keyed at the
 * owner, global everywhere), a publish goes through aedes to the key's owner, and the same
 * credentials and ACL apply. Bad frames get an error frame and are counted; an abusive, silent
 * or slow connection is closed.
 */
export class ChannelServer {
  readonly #wss: WebSocketServer
  readonly #sessions = new Set<ChannelSession>()
  readonly #sockets: PingSweep
  readonly #metrics: ChannelMetrics
  #next = 0

  constructor(private readonly deps: ChannelDeps) {
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: maxChannelFrameBytes(deps.maxPacketBytes) })
    this.#metrics = new ChannelMetrics(deps.registry)
    this.#sockets = new PingSweep(deps.clock, CHANNEL_PING_MS, () => this.#metrics.closed.inc({ reason: 'no-pong' }))
    deps.admin.upgrade(CHANNELS_PATH, this.#handler(), { authenticated: false })
  }

  get connections(): number { return this.#sessions.size }

  close(): void {
    for (const session of this.#sessions) this.#drop(session)
    this.#sockets.close()
    this.#wss.close()
  }

  #handler(): UpgradeHandler {
    return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.#identify(req).then((identity) => {
        if (identity === 'refused') {
          this.#metrics.refused.inc()
          socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
          return
        }
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, identity))
      }, (err: unknown) => {
        this.deps.log.error({ err }, 'channel credential check failed')
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      })
    }
  }

  /**
   * Who the upgrade request proves: the admin token (operator), a client certificate (its CN),
   * HTTP Basic credentials of the user store, or nobody yet (anonymous when allowed, else an `auth` frame must follow).
   */
  async #identify(req: IncomingMessage): Promise<Identity | undefined | 'refused'> {
    const header = req.headers.authorization
    const auth = this.deps.admin.auth
    if (auth.required && (header?.startsWith('Bearer ') === true || new URL(req.url ?? '/', 'http://x').searchParams.has('token'))) {
      return auth.check(req, true) === undefined ? { username: undefined, role: 'operator' } : 'refused'
    }
    // Over the admin TLS port, a client certificate verified against tlsCa names the user (as for MQTT).
    const certUser = certificateUser(undefined, req)
    if (certUser !== undefined) return certificateIdentity(certUser, this.deps.credentials)
    const basic = typeof header === 'string' ? /^Basic\s+(\S+)\s*$/i.exec(header)?.[1] : undefined
    if (basic !== undefined) {
      const text = Buffer.from(basic, 'base64').toString('utf8')
      const colon = text.indexOf(':')
      if (colon < 1) return 'refused'
      const identity = await this.#verify(text.slice(0, colon), text.slice(colon + 1))
      return identity ?? 'refused'
    }
    return this.deps.allowAnonymous ? { username: undefined, role: 'anonymous' } : undefined
  }

  async #verify(username: string, password: string): Promise<Identity | undefined> {
    const role = await this.deps.credentials.verify(username, password)
    return role === undefined ? undefined : { username, role }
  }

  #accept(ws: WebSocket, identity: Identity | undefined): void {
    const metrics = this.#metrics
    const session = new ChannelSession(`${this.deps.self}:${++this.#next}`, this.deps.self, ws, {
      clock: this.deps.clock,
      onSlow: () => metrics.closed.inc({ reason: 'slow' }),
      onSent: () => metrics.messagesOut.inc(),
    })
    session.identity = identity
    this.#sessions.add(session)
    this.#sockets.track(ws)
    metrics.connections.inc()
    let errors = 0
    const refuse = (ref: string | null, code: string, reason: string): void => {
      metrics.badFrames.inc({ reason: code })
      session.send({ ref, op: 'error', code, reason })
      if (++errors > MAX_CHANNEL_ERRORS) {
        metrics.closed.inc({ reason: 'abuse' })
        ws.close(1008, 'too many bad frames')
      }
    }
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return refuse(null, 'binary', 'frames are JSON text')
      const parsed = parseChannelFrame(rawText(data))
      if (!parsed.ok) return refuse(parsed.ref, parsed.code, parsed.reason)
      this.#handle(session, parsed.frame, refuse).catch((err: unknown) => {
        this.deps.log.error({ err, op: parsed.frame.op }, 'channel frame failed')
        refuse(parsed.frame.ref ?? null, 'internal', 'the hub could not do it; see its log')
      })
    })
    ws.on('error', (err: Error & { code?: string }) => {
      metrics.badFrames.inc({ reason: err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized' : 'websocket' })
      this.deps.log.info({ err: err.message, id: session.id }, 'channel WebSocket error; closed')
    })
    ws.on('close', () => this.#drop(session))
  }

  /** Ends a connection's joins and presence (idempotent). */
  #drop(session: ChannelSession): void {
    if (!this.#sessions.delete(session)) return
    this.#metrics.connections.dec()
    for (const join of session.joins.values()) this.#unlisten(session, join)
    session.joins.clear()
    this.deps.presence.unwatchAll(session)
  }

  async #handle(session: ChannelSession, frame: ChannelClientFrame, refuse: (ref: string | null, code: string, reason: string) => void): Promise<void> {
    this.#metrics.framesIn.inc({ op: frame.op })
    if (frame.op === 'ack') return session.ack(frame.id)
    if (frame.op === 'heartbeat') return session.send({ ref: frame.ref, op: 'ok' })
    if (frame.op === 'auth') {
      if (session.joins.size > 0) return refuse(frame.ref, 'auth-after-join', 'auth must come before the first join')
      const identity = await this.#verify(frame.username, frame.password)
      if (!identity) {
        this.#metrics.refused.inc()
        refuse(frame.ref, 'bad-credentials', 'bad user name or password')
        session.slow() // not slow, but closed the same way: once, with a close frame
        return
      }
      session.identity = identity
      return session.send({ ref: frame.ref, op: 'ok', user: frame.username })
    }
    const identity = session.identity
    if (!identity) return refuse(frame.ref, 'unauthenticated', 'authenticate first: { "op": "auth", "username": ..., "password": ... } or HTTP Basic on the upgrade')
    switch (frame.op) {
      case 'join': return this.#join(session, identity, frame, refuse)
      case 'leave': {
        const join = session.joins.get(frame.topic)
        if (!join) return refuse(frame.ref, 'not-joined', `not joined to ${frame.topic}`)
        session.joins.delete(frame.topic)
        this.#unlisten(session, join)
        return session.send({ ref: frame.ref, op: 'ok' })
      }
      case 'publish': return this.#publish(session, identity, frame, refuse)
      case 'presence': {
        if (!aclAllows(identity, 'subscribe', frame.topic)) return this.#deny(frame.ref, 'presence', frame.topic, refuse)
        if (frame.watch === true) this.deps.presence.watch(session, frame.topic)
        const members = await this.deps.presence.members(frame.topic)
        return session.send({ ref: frame.ref, op: 'ok', members })
      }
    }
  }

  async #join(session: ChannelSession, identity: Identity, frame: Extract<ChannelClientFrame, { op: 'join' }>, refuse: (ref: string | null, code: string, reason: string) => void): Promise<void> {
    const { topic, since } = frame
    if (!aclAllows(identity, 'subscribe', topic)) return this.#deny(frame.ref, 'subscribe', topic, refuse)
    if (session.joins.has(topic)) return refuse(frame.ref, 'already-joined', `already joined to ${topic}; leave first to join again`)
    if (session.joins.size >= MAX_JOINS) return refuse(frame.ref, 'too-many-joins', `a connection holds at most ${MAX_JOINS} joins`)
    const filter = classifyFilter(topic, this.deps.keyDepth)
    if (since !== undefined && filter.kind !== 'keyed') {
      return refuse(frame.ref, 'since-needs-key', `since resumes one key: the topic's first ${this.deps.keyDepth} levels must be literal (e.g. devices/d1/#)`)
    }
    const join = new Join(topic, frame.qos ?? 0, since !== undefined)
    session.joins.set(topic, join)
    // The ring knows of the join once `on` calls back: from then on every message numbered
    // reaches the listener, so a log read started after it misses nothing in between.
    await new Promise<void>((resolve) => { this.deps.bus.on(topic, this.#listenerOf(session, join), resolve) })
    if (session.closed || session.joins.get(topic) !== join) return
    this.deps.presence.joined(topic, session.member())
    if (since === undefined || filter.kind !== 'keyed') {
      session.send({ ref: frame.ref, op: 'ok' })
      return this.#sendRetained(session, join)
    }
    const read = await this.#readLog(filter.key, topic, since).catch((err: unknown) => err instanceof Error ? err : new Error(String(err)))
    if (session.closed || session.joins.get(topic) !== join) return
    if (read instanceof Error) {
      // The owner did not answer: the join stays, live; the client learns it was not resumed.
      this.deps.log.warn({ err: read, key: filter.key }, 'channel resume: the key\'s owner did not answer')
      session.send({ ref: frame.ref, op: 'ok', resumed: false, oldest: null })
      session.finishCatchUp(join, [])
      return this.#sendRetained(session, join)
    }
    if (!read.complete) {
      this.#metrics.resumes.inc({ result: 'too-old' })
      session.send({ ref: frame.ref, op: 'ok', resumed: false, oldest: read.oldest })
      await this.#sendRetained(session, join)
      session.finishCatchUp(join, [])
      return
    }
    this.#metrics.resumes.inc({ result: 'resumed' })
    session.send({ ref: frame.ref, op: 'ok', resumed: true })
    session.finishCatchUp(join, read.inputs)
  }

  /**
   * A key's messages after `since` matching `topic`, read from its owner page by page.
   * `complete` false when the ring's logs no longer reach back to `since` (retention; or an owner
   * change whose handed-over tail is shorter, while the hubs holding the older entries are down:
   * `Router.logSince`): then the client gets a snapshot instead.
   */
  async #readLog(key: string, topic: string, since: ChannelOffset): Promise<{ complete: boolean, oldest: Offset | null, inputs: ChannelInput[] }> {
    const { complete, oldest, entries } = await readKeyLog((from) => this.deps.router.logSince(key, from, CATCH_UP_PAGE), since, CATCH_UP_PAGE)
    if (!complete) return { complete, oldest, inputs: [] }
    const inputs: ChannelInput[] = []
    for (const e of entries) {
      if (topicMatches(topic, e.topic)) inputs.push({ topic: e.topic, payload: e.payload, key, offset: { epoch: e.epoch, seq: e.seq }, retained: false })
    }
    return { complete, oldest, inputs }
  }

  async #sendRetained(session: ChannelSession, join: Join): Promise<void> {
    const filter = classifyFilter(join.topic, this.deps.keyDepth)
    if (filter.kind === 'local') return
    const retained = await this.deps.router.retainedFor([join.topic])
    for (const m of retained) {
      if (session.closed || session.joins.get(join.topic) !== join) return
      session.deliver(join, { topic: m.topic, payload: m.payload, retained: true })
    }
  }

  async #publish(session: ChannelSession, identity: Identity, frame: Extract<ChannelClientFrame, { op: 'publish' }>, refuse: (ref: string | null, code: string, reason: string) => void): Promise<void> {
    if (!aclAllows(identity, 'publish', frame.topic)) return this.#deny(frame.ref, 'publish', frame.topic, refuse)
    const payload = payloadOfFrame(frame)
    if (payload.length > this.deps.maxPacketBytes) return refuse(frame.ref, 'too-large', `payload is over the hub's ${this.deps.maxPacketBytes} bytes`)
    session.publishing++
    // Back-pressure as MQTT's inbound inflight bound does: no more frames are read from this
    // connection until the ring has answered some of its publishes.
    const paused = this.deps.maxInflight > 0 && session.publishing >= this.deps.maxInflight
    if (paused) session.pauseReading()
    try {
      const err = await new Promise<Error | undefined>((resolve) => {
        this.deps.publish({ cmd: 'publish', topic: frame.topic, payload, qos: frame.qos ?? 1, retain: frame.retain === true, dup: false }, resolve)
      })
      if (err) {
        this.#metrics.publishFailures.inc()
        return refuse(frame.ref, 'not-acknowledged', `the key's owner did not acknowledge the publish: ${err.message}`)
      }
      this.#metrics.messagesIn.inc()
      session.send({ ref: frame.ref, op: 'ok' })
    } finally {
      session.publishing--
      if (paused) session.resumeReading()
    }
  }

  #deny(ref: string, action: string, topic: string, refuse: (ref: string | null, code: string, reason: string) => void): void {
    this.#metrics.denied.inc({ action })
    refuse(ref, 'not-authorized', `${action} on ${topic} is not allowed for this identity`)
  }

  #listenerOf(session: ChannelSession, join: Join): BusListener {
    join.listener = (packet, done) => {
      done()
      session.deliver(join, inputOf(packet))
    }
    return join.listener
  }

  #unlisten(session: ChannelSession, join: Join): void {
    if (join.listener) this.deps.bus.removeListener(join.topic, join.listener, noop)
    join.listener = undefined
    this.deps.presence.left(join.topic, session.member())
  }

}

function noop(): void {}

/** A bus packet as a channel message: ring packets carry `key@epoch` and the seq (ring-emitter.ts). */
function inputOf(packet: BusPacket): ChannelInput {
  const { topic, payload: raw, brokerId: id, brokerCounter: seq } = packet
  const payload = Buffer.isBuffer(raw) ? raw : Buffer.from(typeof raw === 'string' ? raw : '')
  const at = typeof id === 'string' ? id.lastIndexOf('@') : -1
  if (typeof id !== 'string' || at < 1 || topic.startsWith('$') || !Number.isSafeInteger(seq)) return { topic, payload, retained: false }
  const epoch = Number(id.slice(at + 1))
  if (!Number.isSafeInteger(epoch)) return { topic, payload, retained: false }
  return { topic, payload, key: id.slice(0, at), offset: { epoch, seq: seq as number }, retained: false }
}

/** The channel endpoint's counters (on /metrics). */
class ChannelMetrics {
  readonly connections: Gauge
  readonly refused: Counter
  readonly badFrames: Counter<'reason'>
  readonly closed: Counter<'reason'>
  readonly framesIn: Counter<'op'>
  readonly messagesIn: Counter
  readonly messagesOut: Counter
  readonly publishFailures: Counter
  readonly denied: Counter<'action'>
  readonly resumes: Counter<'result'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.connections = new Gauge({ name: 'ringhub_channel_connections', help: 'Open JSON channel WebSockets (/channels)', registers })
    this.refused = new Counter({ name: 'ringhub_channel_auth_refused_total', help: 'Channel connections refused for bad credentials or a wrong admin token', registers })
    this.badFrames = new Counter({ name: 'ringhub_channel_bad_frames_total', help: 'Channel frames answered with an error frame, by reason', labelNames: ['reason'] as const, registers })
    this.closed = new Counter({ name: 'ringhub_channel_closed_total', help: 'Channel connections closed by the hub, by reason (slow, abuse, no-pong)', labelNames: ['reason'] as const, registers })
    this.framesIn = new Counter({ name: 'ringhub_channel_frames_in_total', help: 'Well-formed channel frames received, by op', labelNames: ['op'] as const, registers })
    this.messagesIn = new Counter({ name: 'ringhub_channel_messages_in_total', help: 'Messages published by channel clients and acknowledged', registers })
    this.messagesOut = new Counter({ name: 'ringhub_channel_messages_out_total', help: 'Message frames sent to channel clients', registers })
    this.publishFailures = new Counter({ name: 'ringhub_channel_publish_failures_total', help: 'Channel publishes the key\'s owner did not acknowledge (answered with an error frame)', registers })
    this.denied = new Counter({ name: 'ringhub_channel_acl_denials_total', help: 'Channel joins, publishes and presence queries the ACL refused, by action', labelNames: ['action'] as const, registers })
    this.resumes = new Counter({ name: 'ringhub_channel_resumes_total', help: 'Joins with since, by result (resumed, too-old)', labelNames: ['result'] as const, registers })
  }
}
