import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Aedes, AedesPublishPacket } from 'aedes'
import type { IncomingMessage } from 'node:http'
import type { Clock } from './base/clock.js'
import type { Logger } from './base/log.js'
import { ConfigError } from './base/errors.js'
import type { HubConfig } from './config/options.js'
import type { HubInfo } from './contract/hub-info.js'
import { HubMetrics } from './metrics/hub-metrics.js'
import { HubDb } from './store/db.js'
import type { SqlitePersistence } from './store/sqlite-persistence.js'
import { TopicLog } from './store/topic-log.js'
import { UserStore } from './store/user-store.js'
import { MqttAuth } from './mqtt/auth.js'
import { closeBroker, createBroker } from './mqtt/broker.js'
import { createMqEmitter } from './mqtt/mq-emitter.js'
import { RingEmitter } from './mqtt/ring-emitter.js'
import { nextTurn } from './base/next-turn.js'
import { RoutedPersistence } from './mqtt/routed-persistence.js'
import type { Member } from './membership/member.js'
import { MAX_LOG_READ, Router } from './routing/router.js'
import { keyOf } from './ring/keys.js'
import type { Offset } from './store/topic-log.js'
import { Sequencer } from './routing/sequencer.js'
import { TcpPeerBus } from './routing/tcp-peer-bus.js'
import { MqttListeners } from './mqtt/listeners.js'
import { SysTopics } from './mqtt/sys-topics.js'
import { publishOrphanedWills, publishWillsBeforeStop } from './mqtt/wills.js'
import { AdminServer, sendJson } from './admin/admin-server.js'
import { MAX_COMMAND_TIMEOUT_MS, isTopicLevel, sendCommand, type CommandTransport } from './admin/device-commands.js'
import { Cluster } from './membership/cluster.js'
import { UdpTcpTransport } from './transport/udp-tcp-transport.js'
import { NodeState } from './store/node-state.js'
import { randomRng, type Rng } from './base/rng.js'
import { advertisedHost, hostPort } from './hub-addresses.js'
import { RINGHUB_VERSION } from './version.js'

export interface HubDeps {
  config: HubConfig
  clock: Clock
  /** Randomness for gossip (probe order, jitter); a fresh unpredictable one by default. */
  rng?: Rng
  log: Logger
  /** Defaults to a fresh registry with process metrics. */
  metrics?: HubMetrics
}

export const WS_PATH = '/mqtt'
export const DB_FILE = 'hub.sqlite'

/**
 * A running hub: one aedes broker on SQLite, its MQTT listeners (TCP, TLS, WebSocket) and the
 * admin server. The composition root: the only place that wires the parts together.
 */
export class Hub {
  #stopped = false

  private constructor(
    readonly config: HubConfig,
    readonly ports: HubInfo['ports'],
    readonly broker: Aedes,
    readonly db: HubDb,
    readonly users: UserStore,
    readonly metrics: HubMetrics,
    readonly cluster: Cluster,
    private readonly parts: {
      listeners: MqttListeners
      admin: AdminServer
      sys: SysTopics
      persistence: SqlitePersistence
      log: Logger
      router: Router
      bus: TcpPeerBus
      emitter: RingEmitter
    },
  ) {}

  static async start(deps: HubDeps): Promise<Hub> {
    const { config, clock } = deps
    const log = deps.log.child({ hub: config.id })
    const metrics = deps.metrics ?? new HubMetrics({ processMetrics: true })
    const startedMs = clock.now()
    mkdirSync(config.data, { recursive: true })
    const tls = config.mqtts === undefined ? undefined : readTls(config)

    const db = HubDb.open({ path: join(config.data, DB_FILE), clock, log, metrics, groupCommitMs: config.groupCommitMs, sync: config.storeSync })
    const cleanups: Array<() => Promise<void> | void> = [() => db.close()]
    try {
      const users = new UserStore(db)
      const persistence = new RoutedPersistence({
        db,
        log,
        maxQueuedMessages: config.maxQueuedMessages,
        onQueueFull: () => metrics.drops.inc({ reason: 'offline-queue-full' }),
      })
      const auth = new MqttAuth({ credentials: users, allowAnonymous: config.allowAnonymous, log, metrics })
      const emitter = new RingEmitter(createMqEmitter({ concurrency: 100 }), log)
      const broker = await createBroker({ id: config.id, persistence, auth, log, metrics, limits: config, mq: emitter.mq })
      cleanups.unshift(() => closeBroker(broker))

      const listeners = new MqttListeners({ broker, maxPacketBytes: config.maxPacketBytes, log, metrics })
      cleanups.unshift(() => listeners.close())
      const mqttPort = await listeners.listenTcp(config.host, config.mqtt)
      const mqttsPort = tls ? await listeners.listenTls(config.host, config.mqtts as number, tls) : null

      let ports: HubInfo['ports'] = { mqtt: mqttPort, mqtts: mqttsPort, admin: 0, gossip: 0 }
      const admin = new AdminServer({
        log,
        metrics,
        info: (): HubInfo => ({
          apiVersion: 1,
          id: config.id,
          version: RINGHUB_VERSION,
          host: config.host,
          ports,
          wsPath: WS_PATH,
          startedAt: new Date(startedMs).toISOString(),
          uptimeMs: clock.now() - startedMs,
          clients: { connected: broker.connectedClients },
          allowAnonymous: config.allowAnonymous,
          maxPacketBytes: config.maxPacketBytes,
        }),
        healthCheck: () => {
          if (broker.closed) throw new Error('broker closed')
          db.read(() => db.sqlite.prepare('SELECT 1').get())
        },
      })
      listeners.attachWebSocket(admin.server, WS_PATH)
      cleanups.unshift(() => admin.close())
      ports = { ...ports, admin: await admin.listen(config.host, config.admin) }

      const bus = new TcpPeerBus({ self: config.id, host: config.host, port: config.interHub, clock, log: log.child({ component: 'router' }) })
      const interHubPort = await bus.start()
      cleanups.unshift(() => bus.close())
      const transport = await UdpTcpTransport.start({ host: config.host, port: config.gossip, advertise: config.advertise, clock, log })
      cleanups.unshift(() => transport.close())
      const host = advertisedHost(config.host, config.advertise)
      const cluster = Cluster.start({
        options: {
          id: config.id,
          addresses: { mqtt: hostPort(host, ports.mqtt), admin: hostPort(host, ports.admin), interHub: hostPort(host, interHubPort) },
          meta: { version: RINGHUB_VERSION, role: 'hub' },
          profile: config.profile,
          seeds: config.join,
          gossipKeys: config.gossipKeys,
          clusterLabel: config.clusterLabel,
        },
        transport, clock, rng: deps.rng ?? randomRng(), log, state: new NodeState(db),
      })
      cleanups.unshift(() => cluster.stop(0))
      metrics.gossipSource = () => ({ ...cluster.swim.stats, events: cluster.events })
      ports = { ...ports, gossip: transport.port }

      const router = startRouter({ config, cluster, bus, persistence, emitter, topicLog: new TopicLog(db), clock, log })
      // aedes numbers packets with `counter`, which its typings leave out.
      emitter.attach({ router, persistence, broker: broker as unknown as { counter: number, id: string }, keyDepth: config.keyDepth })
      persistence.ring = { keyDepth: config.keyDepth, retainedFor: (filters) => router.retainedFor(filters) }
      cleanups.unshift(() => router.stop())
      metrics.routingSource = () => ({ events: { ...router.stats }, link: bus.stats })
      admin.route('GET /api/keys/messages', async (req, res) => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams
        const parsed = parseResumeQuery(query, config.keyDepth)
        if (typeof parsed === 'string') return sendJson(res, 400, { error: parsed })
        try {
          const { owner, entries } = await router.logSince(parsed.key, parsed.since, parsed.limit)
          const last = entries.at(-1)
          sendJson(res, 200, {
            key: parsed.key, owner,
            messages: entries.map((e) => ({ epoch: e.epoch, seq: e.seq, topic: e.topic, qos: e.qos, retain: e.retain, tsMs: e.tsMs, payload: e.payload.toString('base64'), text: utf8OrUndefined(e.payload) })),
            next: last ? { epoch: last.epoch, seq: last.seq } : parsed.since,
          })
        } catch (err) {
          sendJson(res, 503, { error: `the key's owner did not answer: ${err instanceof Error ? err.message : String(err)}` })
        }
      })
      let commandNo = 0
      admin.routePrefix('POST /api/devices/', async (req, res) => {
        const match = /^\/api\/devices\/([^/]+)\/commands$/.exec((req.url ?? '').split('?')[0] ?? '')
        if (!match) return sendJson(res, 404, { error: 'expected POST /api/devices/<id>/commands' })
        if (!isLoopback(req.socket.remoteAddress)) return sendJson(res, 403, { error: 'device commands are accepted from loopback only until the admin API has tokens' })
        const device = decodeURIComponent(match[1] as string)
        const body = await readJsonBody(req, 64 * 1024)
        if (typeof body === 'string') return sendJson(res, 400, { error: body })
        const { name, args, timeoutMs = 5_000 } = body as { name?: unknown, args?: unknown, timeoutMs?: unknown }
        if (!isTopicLevel(device)) return sendJson(res, 400, { error: 'the device id must be one topic level (no /, +, #)' })
        if (typeof name !== 'string' || !isTopicLevel(name)) return sendJson(res, 400, { error: 'name must be a command name (one topic level)' })
        if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_COMMAND_TIMEOUT_MS) return sendJson(res, 400, { error: `timeoutMs must be an integer in [1, ${MAX_COMMAND_TIMEOUT_MS}]` })
        const outcome = await sendCommand(commandTransport(broker, router), clock, { device, name, args, timeoutMs, id: `${config.id}-${++commandNo}` })
        sendJson(res, outcome.status, outcome.body)
      })
      await publishOrphanedWills(broker, persistence, log)
      admin.route('GET /api/ring', (_req, res) => sendJson(res, 200, cluster.view()))
      admin.route('GET /api/ring/owner', (req, res) => {
        const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic')
        if (!topic) return sendJson(res, 400, { error: 'query parameter topic is required' })
        sendJson(res, 200, { topic, ...cluster.ownerOf(topic) })
      })

      const sys = new SysTopics({
        broker, clock, log, metrics,
        version: `ringhub ${RINGHUB_VERSION} (aedes ${(broker as unknown as { version: string }).version})`,
        intervalMs: config.sysIntervalMs,
        storeCounts: async () => {
          const { subsCount } = await persistence.countOffline()
          return { subscriptions: subsCount, retained: persistence.retainedCount }
        },
      })
      sys.start()

      log.info({ ports, data: config.data, version: RINGHUB_VERSION, gossip: transport.address }, 'hub started')
      return new Hub(config, ports, broker, db, users, metrics, cluster, { listeners, admin, sys, persistence, log, router, bus, emitter })
    } catch (err) {
      for (const cleanup of cleanups) await cleanup()
      throw err
    }
  }

  /**
   * Applies a re-read configuration (SIGHUP) to a running hub. Only `gossipKeys` (key rotation)
   * and `logLevel` change at run time; any other option that differs is listed in `needRestart`
   * and keeps its old value. Throws `ConfigError` (nothing applied) for a change it refuses.
   */
  reload(next: HubConfig): { applied: string[], needRestart: string[] } {
    const applied: string[] = []
    const needRestart: string[] = []
    for (const key of Object.keys(next) as Array<keyof HubConfig>) {
      if (JSON.stringify(next[key]) === JSON.stringify(this.config[key])) continue
      if (key === 'gossipKeys') {
        this.cluster.useGossipKeys(next.gossipKeys)
        applied.push(key)
      } else if (key === 'logLevel') {
        this.parts.log.level = next.logLevel
        applied.push(key)
      } else {
        needRestart.push(key)
      }
    }
    this.config.gossipKeys = next.gossipKeys
    this.config.logLevel = next.logLevel
    this.parts.log.info({ applied, needRestart }, 'configuration reloaded')
    return { applied, needRestart }
  }

  /** Graceful stop: stop accepting, close clients, flush and close the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const { listeners, admin, sys, persistence, log } = this.parts
    sys.stop()
    // Leave the ring first: the others stop routing here at once instead of suspecting us.
    await this.cluster.stop()
    await publishWillsBeforeStop(this.broker, persistence, log)
    // The wills reach local subscribers through the bus, then their sockets (written in the next
    // event-loop turn): let that happen before the connections close.
    await this.parts.emitter.idle()
    await new Promise<void>((resolve) => { nextTurn(resolve) })
    // Listeners first: they own the upgraded WebSocket connections, which the HTTP server's
    // close would otherwise wait for.
    await listeners.close()
    await admin.close()
    await closeBroker(this.broker)
    this.parts.router.stop()
    await this.parts.bus.close()
    this.db.close()
    log.info('hub stopped')
  }
}

/**
 * The router of a hub: ownership from the cluster's ring, peers and their inter-hub addresses
 * from membership, interest refreshed on every ownership change (soft state, DESIGN §2).
 */
function startRouter(deps: { config: HubConfig, cluster: Cluster, bus: TcpPeerBus, persistence: RoutedPersistence, emitter: RingEmitter, topicLog: TopicLog, clock: Clock, log: Logger }): Router {
  const { config, cluster, bus, persistence, emitter, topicLog, clock, log } = deps
  const hubPeers = (): Member[] => cluster.swim.members.filter((m) => m.id !== config.id && m.meta.role === 'hub' && (m.state === 'alive' || m.state === 'suspect'))
  const router = new Router({
    self: config.id,
    bus,
    ownerOf: (key) => cluster.tracker.ring.ownerOf(key),
    replicasOf: (key, n) => cluster.tracker.ring.replicasOf(key, n),
    replicationFactor: config.replicationFactor,
    peers: () => hubPeers().map((m) => m.id),
    sequencer: new Sequencer({ log: topicLog, clock }),
    topicLog,
    retained: persistence,
    deliverLocal: (d) => emitter.deliver(d),
    clock,
    log: log.child({ component: 'router' }),
    keyDepth: config.keyDepth,
  })
  const updatePeers = (): void => {
    bus.setPeers(new Map(hubPeers().filter((m) => m.addresses.interHub !== undefined).map((m) => [m.id, m.addresses.interHub as string])))
  }
  for (const event of ['memberJoined', 'memberUpdated', 'memberSuspected'] as const) cluster.swim.on(event, updatePeers)
  for (const event of ['memberDied', 'memberLeft'] as const) {
    cluster.swim.on(event, (m) => { updatePeers(); router.peerGone(m.id) })
  }
  cluster.onOwnershipChanged(() => router.refreshInterest())
  // A newly seen hub needs this hub's global filters even when no key moved to it.
  cluster.swim.on('memberJoined', () => router.refreshInterest())
  updatePeers()
  router.start()
  return router
}

/** `?key=devices/d42&since=EPOCH:SEQ&limit=N` (since default 0:0, limit default and max 1000). */
function parseResumeQuery(query: URLSearchParams, keyDepth: number): { key: string, since: Offset, limit: number } | string {
  const key = query.get('key')
  if (!key) return 'query parameter key is required (e.g. key=devices/d42)'
  if (keyOf(key, keyDepth) !== key) return `${key} is not a key: a key is the first ${keyDepth} levels of a topic, without $`
  const since = /^(\d+):(\d+)$/.exec(query.get('since') ?? '0:0')
  if (!since) return 'since must be EPOCH:SEQ, e.g. since=3:17'
  const limit = Number(query.get('limit') ?? MAX_LOG_READ)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_READ) return `limit must be an integer in [1, ${MAX_LOG_READ}]`
  return { key, since: { epoch: Number(since[1]), seq: Number(since[2]) }, limit }
}

function utf8OrUndefined(payload: Buffer): string | undefined {
  const text = payload.toString('utf8')
  return Buffer.byteLength(text) === payload.length && !text.includes('\uFFFD') ? text : undefined
}

/** Commands travel through the broker's bus, hence through the ring (see device-commands.ts). */
function commandTransport(broker: Aedes, router: Router): CommandTransport {
  return {
    subscribe: (topic, onMessage) => new Promise((resolve) => {
      const listener = (packet: AedesPublishPacket, done: () => void): void => {
        onMessage(Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload))
        done()
      }
      broker.subscribe(topic, listener, () => resolve(() => new Promise<void>((done) => { broker.unsubscribe(topic, listener, () => done()) })))
    }),
    publish: (topic, payload) => new Promise((resolve, reject) => {
      broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => { if (err) reject(err); else resolve() })
    }),
    retained: async (topic) => (await router.retainedFor([topic]))[0]?.payload,
  }
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1'
}

/** The request body as JSON, or an error text (too large, not JSON). */
async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) return `the body is over ${maxBytes} bytes`
    chunks.push(chunk)
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : 'the body must be a JSON object'
  } catch {
    return 'the body is not JSON'
  }
}

function readTls(config: HubConfig): { cert: Buffer, key: Buffer } {
  const read = (field: 'tlsCert' | 'tlsKey'): Buffer => {
    const path = config[field] as string
    try {
      return readFileSync(path)
    } catch (err) {
      throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  return { cert: read('tlsCert'), key: read('tlsKey') }
}
