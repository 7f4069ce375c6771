import { readFileSync } from 'node:fs'
import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Clock, TimerHandle } from './base/clock.js'
import { ConfigError } from './base/errors.js'
import type { Logger } from './base/log.js'
import type { HubConfig } from './config/options.js'
import type { Cluster } from './membership/cluster.js'
import type { Member } from './membership/member.js'
import { PROFILES, type GossipProfile } from './membership/profiles.js'
import type { HubMetrics } from './metrics/hub-metrics.js'
import type { RingEmitter } from './mqtt/ring-emitter.js'
import type { RoutedPersistence } from './mqtt/routed-persistence.js'
import { WillGuard } from './mqtt/will-guard.js'
import { Router } from './routing/router.js'
import { Sequencer } from './routing/sequencer.js'
import type { LinkTls } from './routing/link-tls.js'
import type { TcpPeerBus } from './routing/tcp-peer-bus.js'
import { payloadBytes } from './store/packet-codec.js'
import type { TopicLog } from './store/topic-log.js'

// Composition of the routing parts for hub.ts: the router wired to membership, and the topic
// log's retention passes.

/** How often retention passes over the topic log, ms. */
const RETENTION_EVERY_MS = 60_000

/**
 * The router of a hub: ownership from the cluster's ring, peers and their inter-hub addresses
 * from membership, interest refreshed on every ownership change (soft state, DESIGN §2).
 */
export function startRouter(deps: { config: HubConfig, cluster: Cluster, bus: TcpPeerBus, persistence: RoutedPersistence, emitter: RingEmitter, topicLog: TopicLog, clock: Clock, log: Logger }): Router {
  const { config, cluster, bus, persistence, emitter, topicLog, clock, log } = deps
  const hubPeers = (): Member[] => cluster.swim.members.filter((m) => m.id !== config.id && m.meta.role === 'hub' && (m.state === 'alive' || m.state === 'suspect'))
  const router = new Router({
    self: config.id,
    bus,
    ownerOf: (key) => cluster.tracker.ring.ownerOf(key),
    replicasOf: (key, n) => cluster.tracker.ring.replicasOf(key, n),
    replicationFactor: config.replicationFactor,
    stallMs: shortestDeathVerdictMs(PROFILES[config.profile]),
    knownHubs: () => cluster.swim.members.filter((m) => m.meta.role === 'hub' && m.state !== 'left').length,
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
  cluster.onOwnershipChanged(() => router.ownershipChanged())
  // Declared dead and refuted: others may have numbered this hub's keys meanwhile.
  cluster.swim.on('selfRefuted', (_incarnation, accusation) => { if (accusation === 'dead') router.refutedDeath() })
  // A newly seen hub needs this hub's global filters even when no key moved to it; one back
  // from a wrong death notice gets its deliveries again at once.
  cluster.swim.on('memberJoined', (m) => { router.peerBack(m.id); router.refreshInterest() })
  updatePeers()
  router.start()
  return router
}

/**
 * The shortest time in which the other hubs can declare this one dead: a missed probe, then the
 * shortest suspicion (Lifeguard's minimum for rings under 10 hubs; larger rings wait longer). A
 * stall of the process longer than this may have cost it its keys (`RouterDeps.stallMs`).
 * edge: 700 ms; lan: 4.5 s.
 */
export function shortestDeathVerdictMs(profile: Pick<GossipProfile, 'probeTimeoutMs' | 'probeIntervalMs' | 'suspicionMult'>): number {
  return profile.probeTimeoutMs + profile.suspicionMult * profile.probeIntervalMs
}

/** Retention passes over the topic log (every RETENTION_EVERY_MS), counted in /metrics. */
export function startLogRetention(deps: { config: HubConfig, topicLog: TopicLog, metrics: HubMetrics, clock: Clock, log: Logger }): { timer: TimerHandle | undefined } {
  const { config, topicLog, metrics, clock, log } = deps
  const limits = { maxAgeMs: config.logRetentionMs, maxEntries: config.logRetentionEntries, maxBytes: config.logRetentionBytes }
  const handle: { timer: TimerHandle | undefined } = { timer: undefined }
  const pass = (): void => {
    topicLog.prune(limits, clock.now()).then(({ removed, entries, bytes }) => {
      metrics.topicLogPruned.inc(removed)
      metrics.topicLogEntries.set(entries)
      metrics.topicLogBytes.set(bytes)
      if (removed > 0) log.debug({ removed, entries, bytes }, 'topic log retention')
    }, (err: unknown) => log.error({ err }, 'topic log retention failed'))
    handle.timer = clock.setTimeout(pass, RETENTION_EVERY_MS)
    handle.timer.unref()
  }
  pass()
  return handle
}

/** The inter-hub link's TLS files (`interHubTls*`), read; undefined for plain TCP. */
export function readInterHubTls(config: HubConfig): LinkTls | undefined {
  if (config.interHubTlsCert === undefined) return undefined
  const read = (field: 'interHubTlsCert' | 'interHubTlsKey' | 'interHubTlsCa'): Buffer => {
    const path = config[field] as string
    try {
      return readFileSync(path)
    } catch (err) {
      throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  return { cert: read('interHubTlsCert'), key: read('interHubTlsKey'), ca: read('interHubTlsCa') }
}

/**
 * Wills that survive their hub (will-guard.ts): clients' wills go to guardians as clients
 * connect, are released as they go, and fall due on the guardians when their hub dies or restarts.
 */
export function startWillGuard(deps: { config: HubConfig, cluster: Cluster, bus: TcpPeerBus, router: Router, broker: Aedes, persistence: RoutedPersistence, log: Logger }): WillGuard {
  const { config, cluster, bus, router, broker, persistence } = deps
  const isHub = (m: Member): boolean => m.id !== config.id && m.meta.role === 'hub'
  const guard = new WillGuard({
    self: config.id,
    boot: bus.boot,
    bus,
    router,
    replicasOf: (key, n) => cluster.tracker.ring.replicasOf(key, n),
    isMember: (hub) => cluster.swim.members.some((m) => m.id === hub && (m.state === 'alive' || m.state === 'suspect')),
    keyDepth: config.keyDepth,
    publish: async (will) => { await router.publish(will) },
    markGuarded: async (clientId) => {
      const will = await persistence.getWill({ id: clientId })
      if (will) await persistence.putWill({ id: clientId }, { ...will, guarded: true })
    },
    log: deps.log.child({ component: 'wills' }),
  })
  broker.on('clientReady', (client) => {
    const will = (client as Client & { will?: AedesPublishPacket | null }).will
    if (!will) return
    const payload = payloadBytes(will.payload)
    void guard.clientConnected(client.id, { topic: will.topic, payload, qos: will.qos, retain: will.retain })
  })
  broker.on('clientDisconnect', (client) => guard.clientGone(client.id))
  cluster.swim.on('memberJoined', (m) => { if (isHub(m)) guard.peerJoined(m.id) })
  cluster.swim.on('memberDied', (m) => { if (isHub(m)) guard.hubDied(m.id) })
  cluster.swim.on('memberLeft', (m) => { if (isHub(m)) guard.hubLeft(m.id) })
  return guard
}
