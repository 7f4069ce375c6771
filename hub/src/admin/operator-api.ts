import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { Cluster } from '../membership/cluster.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { Router } from '../routing/router.js'
import type { TcpPeerBus } from '../routing/tcp-peer-bus.js'
import { AdminHistory } from '../store/admin-history.js'
import type { HubDb } from '../store/db.js'
import type { TopicLog } from '../store/topic-log.js'
import type { AdminServer } from './admin-server.js'
import { AdminWs, WS_API_PATH } from './admin-ws.js'
import { DeviceTracker } from './device-tracker.js'
import { registerDevices } from './devices-routes.js'
import { registerLinks } from './links-routes.js'
import { LiveTap } from './live-tap.js'
import { RingQuery } from './ring-query.js'
import { registerStats } from './stats-routes.js'
import { StatsSampler, type StatsReading } from './stats-sampler.js'
import { Timeline } from './timeline.js'
import { TopicTracker } from './topic-tracker.js'
import { registerTopics } from './topics-routes.js'
import { statsFeed } from './stats-feed.js'
import { devicesFeed, RingFeed, timelineFeed } from './ws-channels.js'

export interface OperatorApiDeps {
  self: string
  admin: AdminServer
  broker: Aedes
  cluster: Cluster
  router: Router
  bus: TcpPeerBus
  db: HubDb
  topicLog: TopicLog
  metrics: HubMetrics
  clock: Clock
  log: Logger
  keyDepth: number
  maxPacketBytes: number
}

/**
 * Admin API v1's operator part (issue 6, docs/admin-api.md): stats, timeline, devices, topics,
 * publish and the WebSocket channels, each answered for the whole ring. Built once by hub.ts.
 */
export class OperatorApi {
  private constructor(private readonly parts: { sampler: StatsSampler, ws: AdminWs, ringFeed: RingFeed, feeds: Array<{ stop: () => void }>, ring: RingQuery }) {}

  /** Named queries answered by every alive hub (for other parts that answer for the whole ring). */
  get ring(): RingQuery { return this.parts.ring }

  static start(deps: OperatorApiDeps): OperatorApi {
    const { self, admin, broker, cluster, router, bus, db, topicLog, clock, keyDepth } = deps
    const log = deps.log.child({ component: 'admin' })
    const adminMetrics = admin.adminMetrics
    const history = new AdminHistory(db)
    const ring = new RingQuery({ self, bus, router, peers: () => router.peers(), metrics: adminMetrics, log })
    const ownerOfTopic = (topic: string): string => cluster.ownerOf(topic).owner ?? self

    const devices = new DeviceTracker(clock)
    const topics = new TopicTracker(clock)
    broker.on('client', (client: Client) => devices.connected(client.id))
    broker.on('clientDisconnect', (client: Client) => devices.disconnected(client.id))
    broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
      if (client) devices.published(client.id)
      topics.published(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), packet.retain)
    })

    const sampler = new StatsSampler({ hub: self, clock, history, log, read: () => readStats(deps) })
    sampler.start()
    const stats = registerStats({ admin, ring, sampler, clock })
    registerLinks({ admin, ring, clock, linkStates: () => bus.linkStates() })
    const deviceRoutes = registerDevices({ admin, ring, devices, ownerOf: (id) => ownerOfTopic(`devices/${id}`) })
    registerTopics({ admin, ring, topics, topicLog, broker, keyDepth, maxPacketBytes: deps.maxPacketBytes, ownerOf: ownerOfTopic })
    const timeline = new Timeline({ self, cluster, history, clock, log })
    const timelineRoutes = timeline.register(admin, ring)

    const ringFeed = new RingFeed({ clock, view: () => cluster.view() })
    for (const event of ['memberJoined', 'memberUpdated', 'memberSuspected', 'memberDied', 'memberLeft'] as const) cluster.swim.on(event, () => ringFeed.changed())
    const feeds = {
      stats: statsFeed({ clock, log, pointsOfRing: stats.pointsOfRing }),
      devices: devicesFeed({ clock, log, changedOfRing: deviceRoutes.changedOfRing }),
      timeline: timelineFeed({ clock, log, ofRing: timelineRoutes.ofRing }),
    }
    const ws = new AdminWs({ channels: { ring: ringFeed, ...feeds, tap: new LiveTap({ broker, clock, metrics: adminMetrics }) }, metrics: adminMetrics, log, clock })
    admin.upgrade(WS_API_PATH, ws.handler(), { authenticated: true })
    return new OperatorApi({ sampler, ws, ringFeed, feeds: Object.values(feeds), ring })
  }

  /** Stops sampling and feeding and closes the operator WebSockets (before the broker closes). */
  stop(): void {
    this.parts.sampler.stop()
    this.parts.ringFeed.stop()
    for (const feed of this.parts.feeds) feed.stop()
    this.parts.ws.close()
  }
}

/** The hub's running totals for one stats point (hub-metrics.ts, the router and the link). */
async function readStats(deps: OperatorApiDeps): Promise<StatsReading> {
  const { broker, metrics, router, bus, admin } = deps
  const traffic = metrics.traffic
  const sum = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> => (await counter.get()).values.reduce((s, v) => s + v.value, 0)
  // Every cause of a lost message: full queues and refusals (drops), deliveries the link could
  // not take, one-way link messages, and live-tap frames a slow operator socket did not read.
  const drops = await sum(metrics.drops) + router.stats.deliveriesDropped + bus.stats.dropped + await sum(admin.adminMetrics.tapDropped)
  return {
    connections: broker.connectedClients,
    msgsIn: traffic.messagesIn[0] + traffic.messagesIn[1] + traffic.messagesIn[2],
    msgsOut: traffic.messagesOut,
    interHubBytesIn: bus.stats.bytesIn,
    interHubBytesOut: bus.stats.bytesOut,
    drops,
    storeLagMs: router.replication().lagMs,
  }
}
