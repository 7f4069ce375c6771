import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Aedes, Client } from 'aedes'
import type { Clock } from './base/clock.js'
import type { Logger } from './base/log.js'
import type { HubConfig } from './config/options.js'
import type { HubInfo } from './contract/hub-info.js'
import { HubMetrics } from './metrics/hub-metrics.js'
import { HubDb } from './store/db.js'
import type { SqlitePersistence } from './store/sqlite-persistence.js'
import { TopicLog } from './store/topic-log.js'
import { UserStore } from './store/user-store.js'
import { MqttAuth } from './mqtt/auth.js'
import { closeBroker, createBroker, type BrokerDeps } from './mqtt/broker.js'
import { createMqEmitter } from './mqtt/mq-emitter.js'
import { RingEmitter } from './mqtt/ring-emitter.js'
import { RING_FORMAT } from './ring/ring.js'
import type { RingVnodesView } from './contract/ring-view.js'
import { nextTurn } from './base/next-turn.js'
import { RoutedPersistence } from './mqtt/routed-persistence.js'
import type { Router } from './routing/router.js'
import { TcpPeerBus } from './routing/tcp-peer-bus.js'
import { MqttListeners } from './mqtt/listeners.js'
import { readServerTls } from './mqtt/server-tls.js'
import { FlapGuard } from './mqtt/flap-guard.js'
import { HEAP_GROWTH_PERCENT_UNDER_CAP, OverloadGovernor } from './mqtt/overload-governor.js'
import { ReadGate } from './mqtt/read-gate.js'
import { processMemory, type ProcessMemory } from './base/process-memory.js'
import { SysTopics } from './mqtt/sys-topics.js'
import { publishOrphanedWills, publishWillsBeforeStop } from './mqtt/wills.js'
import { AdminServer, sendJson } from './admin/admin-server.js'
import { registerRingMemberRoutes } from './admin/ring-members-routes.js'
import { registerRoutingRoutes } from './admin/routing-routes.js'
import { staticFiles } from './admin/static-files.js'
import { ChannelPresence } from './admin/channel-presence.js'
import { ChannelServer } from './admin/channels.js'
import { OperatorApi } from './admin/operator-api.js'
import { readInterHubTls, startLogRetention, startRouter, startWillGuard } from './hub-routing.js'
import { Cluster } from './membership/cluster.js'
import { UdpTcpTransport } from './transport/udp-tcp-transport.js'
import { NodeState } from './store/node-state.js'
import { randomRng, type Rng } from './base/rng.js'
import { advertisedHost, hostPort } from './hub-addresses.js'
import { RINGHUB_VERSION } from './version.js'
import { installResumeTopic } from './mqtt/resume-topic.js'
import { SessionHandoff } from './mqtt/session-handoff.js'

export interface HubDeps {
  config: HubConfig
  clock: Clock
  /** Randomness for gossip (probe order, jitter); a fresh unpredictable one by default. */
  rng?: Rng
  log: Logger
  /** Defaults to a fresh registry with process metrics. */
  metrics?: HubMetrics
  /** The memory the overload protection (`maxRssMb`) watches; this process's by default. */
  memory?: ProcessMemory
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
      overload: OverloadGovernor
      log: Logger
      router: Router
      bus: TcpPeerBus
      emitter: RingEmitter
      operator: OperatorApi
      channels: ChannelServer
    },
  ) {}

  /** The session store (subscriptions, queues, retained messages), for inspection. */
  get persistence(): SqlitePersistence { return this.parts.persistence }

  static async start(deps: HubDeps): Promise<Hub> {
    const { config, clock } = deps
    const log = deps.log.child({ hub: config.id })
    const metrics = deps.metrics ?? new HubMetrics({ processMetrics: true })
    const startedMs = clock.now()
    // Uptime is a duration: measured on the monotonic clock, so a wall-clock jump leaves it alone.
    const startedMonoMs = clock.monotonicMs()
    mkdirSync(config.data, { recursive: true })
    const tls = readServerTls(config)

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
      const flaps = new FlapGuard({ maxConnects: config.flapMaxConnects, windowMs: config.flapWindowMs, banMs: config.flapBanMs, clock })
      const { overload, readGate } = startOverloadProtection(config, clock, deps.memory ?? processMemory(), log, metrics)
      cleanups.unshift(() => overload.stop())
      const auth = new MqttAuth({ credentials: users, allowAnonymous: config.allowAnonymous, log, metrics, flaps, overload })
      const emitter = new RingEmitter(createMqEmitter({ concurrency: 100 }), log)
      const brokerHooks: NonNullable<BrokerDeps['hooks']> = {}
      const broker = await createBroker({ id: config.id, persistence, auth, log, metrics, limits: config, mq: emitter.mq, hooks: brokerHooks, queues: persistence, overload })
      cleanups.unshift(() => closeBroker(broker))

      const listeners = new MqttListeners({ broker, maxPacketBytes: config.maxPacketBytes, log, metrics, readGate })
      cleanups.unshift(() => listeners.close())
      const mqttPort = await listeners.listenTcp(config.host, config.mqtt)
      const mqttsPort = tls && config.mqtts !== undefined ? await listeners.listenTls(config.host, config.mqtts, tls) : null

      let ports: HubInfo['ports'] = { mqtt: mqttPort, mqtts: mqttsPort, admin: 0, adminTls: null, gossip: 0 }
      const admin = new AdminServer({
        log,
        metrics,
        token: config.adminToken,
        info: (): HubInfo => ({
          apiVersion: 1,
          id: config.id,
          version: RINGHUB_VERSION,
          host: config.host,
          ports,
          wsPath: WS_PATH,
          startedAt: new Date(startedMs).toISOString(),
          uptimeMs: Math.round(clock.monotonicMs() - startedMonoMs),
          clients: { connected: broker.connectedClients },
          allowAnonymous: config.allowAnonymous,
          maxPacketBytes: config.maxPacketBytes,
        }),
        healthCheck: () => {
          if (broker.closed) throw new Error('broker closed')
          db.read(() => db.sqlite.prepare('SELECT 1').get())
        },
      })
      admin.upgrade(WS_PATH, listeners.webSocketHandler(), { authenticated: false })
      cleanups.unshift(() => admin.close())
      ports = { ...ports, admin: await admin.listen(config.host, config.admin) }
      if (tls && config.adminTls !== undefined) ports = { ...ports, adminTls: await admin.listenTls(config.host, config.adminTls, tls) }

      // The link proves membership with the gossip keys: the config's until the cluster runs,
      // then the cluster's (so a rotation by SIGHUP applies to new connections too).
      const configKeys = config.gossipKeys.map((k) => Buffer.from(k, 'base64'))
      const started: { cluster?: Cluster } = {}
      const bus = new TcpPeerBus({ self: config.id, host: config.host, port: config.interHub, clock, log: log.child({ component: 'router' }), authKeys: () => started.cluster?.gossipKeys() ?? configKeys, tls: readInterHubTls(config) })
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
      started.cluster = cluster
      cleanups.unshift(() => cluster.stop(0))
      // Refusals on the gossip TCP port before a request is read whole (oversized, cut short,
      // idle) are the transport's; they are counted with the rest as `stream-<reason>`.
      metrics.gossipSource = () => ({
        ...cluster.swim.stats,
        rejected: { ...cluster.swim.stats.rejected, ...Object.fromEntries(Object.entries(transport.stats.badFrameReasons).map(([why, n]) => [`stream-${why}`, n])) },
        events: cluster.events,
      })
      ports = { ...ports, gossip: transport.port }

      const topicLog = new TopicLog(db)
      const router = startRouter({ config, cluster, bus, persistence, emitter, topicLog, clock, log })
      emitter.attach({ router, persistence })
      persistence.attachRing(router, config.keyDepth)
      const sessions = new SessionHandoff({
        bus, router, persistence,
        // aedes' connected clients by id; its typings leave the map out.
        clients: () => (broker as unknown as { clients: Record<string, Client | undefined> }).clients,
        log: log.child({ component: 'sessions' }),
      })
      brokerHooks.authenticated = (client) => sessions.connecting(client)
      const wills = startWillGuard({ config, cluster, bus, router, broker, persistence, log })
      cleanups.unshift(() => router.stop())
      const retention = startLogRetention({ config, topicLog, metrics, clock, log })
      cleanups.unshift(() => clock.clearTimeout(retention.timer))
      metrics.linksSource = () => bus.linkStates()
      metrics.routingSource = () => ({ events: { ...router.stats, ...router.deliveryStats }, link: bus.stats, sessions: sessions.stats, wills: wills.stats, replication: router.replication() })
      registerRoutingRoutes(admin, { router, broker, keyDepth: config.keyDepth, hubId: config.id, clock, metrics })
      installResumeTopic({ broker, router, keyDepth: config.keyDepth, identityOf: (client) => auth.identityOf(client), metrics, log })
      await publishOrphanedWills(broker, persistence, log)
      admin.route('GET /api/ring', (_req, res) => sendJson(res, 200, cluster.view()))
      registerRingMemberRoutes(admin, { swim: cluster.swim, log })
      admin.route('GET /api/v1/ring/vnodes', (_req, res) => {
        const ring = cluster.tracker.ring
        const body: RingVnodesView = { apiVersion: 1, checksum: ring.checksum, format: RING_FORMAT, positions: Array.from(ring.continuum.positions), owners: [...ring.continuum.owners] }
        sendJson(res, 200, body)
      })
      admin.route('GET /api/ring/owner', (req, res) => {
        const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic')
        if (!topic) return sendJson(res, 400, { error: 'query parameter topic is required' })
        sendJson(res, 200, { topic, ...cluster.ownerOf(topic) })
      })
      const operator = OperatorApi.start({ self: config.id, admin, broker, cluster, router, bus, db, topicLog, metrics, clock, log, keyDepth: config.keyDepth, maxPacketBytes: config.maxPacketBytes })
      cleanups.unshift(() => operator.stop())
      const presence = new ChannelPresence({ self: config.id, ring: operator.ring, peers: () => router.peers(), log: log.child({ component: 'channels' }) })
      // A dead hub cannot say its channel members left; every other hub says it for it.
      for (const event of ['memberDied', 'memberLeft'] as const) cluster.swim.on(event, (m) => presence.hubGone(m.id))
      cluster.swim.on('memberJoined', (m) => presence.hubBack(m.id))
      const channels = new ChannelServer({
        self: config.id, admin, bus: emitter.mq, router, credentials: users,
        publish: (packet, done) => broker.publish(packet, done),
        presence,
        allowAnonymous: config.allowAnonymous, keyDepth: config.keyDepth, maxPacketBytes: config.maxPacketBytes, maxInflight: config.maxInflightInbound,
        registry: metrics.registry, clock, log: log.child({ component: 'channels' }),
      })
      cleanups.unshift(() => channels.close())

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

      admin.fallback(staticFiles(undefined, { onRefusedPath: (res) => admin.countBadRequest(res, 'bad-path') })) // the operator UI at / (issue 6)
      log.info({ ports, data: config.data, version: RINGHUB_VERSION, gossip: transport.address }, 'hub started')
      return new Hub(config, ports, broker, db, users, metrics, cluster, { listeners, admin, sys, persistence, overload, log, router, bus, emitter, operator, channels })
    } catch (err) {
      for (const cleanup of cleanups) await cleanup()
      throw err
    }
  }

  /**
   * Applies a re-read configuration (SIGHUP) to a running hub. Only `gossipKeys` (key rotation),
   * `adminToken` (rotation; open WebSockets keep going) and `logLevel` change at run time; any other option that differs is listed in `needRestart`
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
      } else if (key === 'adminToken') {
        this.parts.admin.useToken(next.adminToken)
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
    this.config.adminToken = next.adminToken
    this.parts.log.info({ applied, needRestart }, 'configuration reloaded')
    return { applied, needRestart }
  }

  /** Graceful stop: stop accepting, close clients, flush and close the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const { listeners, admin, sys, persistence, log } = this.parts
    sys.stop()
    this.parts.overload.stop()
    this.parts.operator.stop()
    this.parts.channels.close()
    // The wills of the connected clients are due; published while this hub still routes.
    await publishWillsBeforeStop(this.broker, persistence, log)
    // The wills reach local subscribers through the bus, then their sockets (written in the next
    // event-loop turn): let that happen before the connections close.
    await this.parts.emitter.idle()
    await new Promise<void>((resolve) => { nextTurn(resolve) })
    // Number nothing more and let what was numbered reach replicas and subscribers, then leave
    // the ring: the others stop routing here at once instead of suspecting us.
    await this.parts.router.quiesce()
    await this.cluster.stop()
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
 * The memory overload protection (`maxRssMb`; off at 0): the governor samples RSS on the clock
 * and, while overloaded, closes the read gate every client connection passes through (listeners)
 * and has the broker refuse connects and drop QoS 0 deliveries.
 */
function startOverloadProtection(config: HubConfig, clock: Clock, memory: ProcessMemory, log: Logger, metrics: HubMetrics): { overload: OverloadGovernor, readGate: ReadGate | undefined } {
  const capBytes = config.maxRssMb * 1_048_576
  // V8 lets old space grow up to 4× the live heap before a full collection: under a burst the
  // garbage alone (old-space growth 77 → 270 MB, measured) crossed the cap's high-water mark, and
  // pausing reads then left nothing to trigger the collection. Bounded growth keeps RSS near the
  // live heap, so the governor is the last resort rather than the rule.
  if (capBytes > 0) memory.boundHeapGrowth(HEAP_GROWTH_PERCENT_UNDER_CAP)
  const readGate = new ReadGate(() => overload.shed('read-paused'), (bytes) => overload.noteRead(bytes))
  const overload: OverloadGovernor = new OverloadGovernor({
    capBytes,
    clock,
    readMemory: () => memory.sample(),
    reclaim: () => memory.reclaim(),
    log: log.child({ component: 'overload' }),
    onChange: (active) => { if (active) readGate.close(); else readGate.open() },
  })
  metrics.overloadSource = () => ({ active: overload.active, capBytes, ...overload.stats })
  overload.start()
  if (overload.active) log.warn({ maxRssMb: config.maxRssMb }, 'RSS is above the memory cap\'s high-water mark at start: raise maxRssMb')
  // No cap: no gate, so no connection's reads and writes go through one.
  return { overload, readGate: overload.enabled ? readGate : undefined }
}
