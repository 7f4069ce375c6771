import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Counters bumped on the hot path (every read, write and message) as plain numbers; prom-client
 * picks them up when /metrics is scraped, so a message costs an addition, not a label lookup.
 */
export class TrafficCounters {
  bytesIn = 0
  bytesOut = 0
  messagesOut = 0
  /** PUBLISH packets received from clients, by QoS 0, 1, 2. */
  readonly messagesIn: [number, number, number] = [0, 0, 0]
}

/**
 * The hub's Prometheus metrics, on a registry of its own (no global default registry: several
 * hubs may live in one process in tests). Names follow Prometheus conventions, `ringhub_` prefix.
 */
export class HubMetrics {
  readonly registry = new Registry()

  readonly connections = new Gauge({ name: 'ringhub_connections', help: 'Open MQTT client connections', labelNames: ['listener'] as const, registers: [this.registry] })
  readonly connectionsTotal = new Counter({ name: 'ringhub_connections_total', help: 'MQTT connections accepted', labelNames: ['listener'] as const, registers: [this.registry] })
  readonly traffic = new TrafficCounters()
  readonly messagesIn = counterFrom(this.registry, 'ringhub_messages_in_total', 'PUBLISH packets received from clients', (set) => {
    this.traffic.messagesIn.forEach((n, qos) => set(n, { qos: String(qos) }))
  }, ['qos'])
  readonly messagesOut = counterFrom(this.registry, 'ringhub_messages_out_total', 'PUBLISH packets delivered to clients', (set) => set(this.traffic.messagesOut))
  readonly bytesIn = counterFrom(this.registry, 'ringhub_bytes_in_total', 'Bytes received on MQTT connections', (set) => set(this.traffic.bytesIn))
  readonly bytesOut = counterFrom(this.registry, 'ringhub_bytes_out_total', 'Bytes sent on MQTT connections', (set) => set(this.traffic.bytesOut))
  readonly drops = new Counter({ name: 'ringhub_dropped_total', help: 'Messages or connections dropped, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly disconnects = new Counter({ name: 'ringhub_disconnects_total', help: 'Connections lost without a protocol error, by reason (reset, keepalive-timeout, drain-timeout: a client that did not read within drainTimeoutMs, store-failed: a publish the store could not commit, closed unacknowledged)', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly protocolErrors = new Counter({ name: 'ringhub_protocol_errors_total', help: 'Connections closed for bad input, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly authFailures = new Counter({ name: 'ringhub_auth_failures_total', help: 'Refused CONNECTs, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly flapBans = new Counter({ name: 'ringhub_flapping_bans_total', help: 'Client ids banned for connecting too often (--flap-max-connects); their refused CONNECTs count as auth failures, reason flapping-banned', registers: [this.registry] })
  readonly certificateLogins = new Counter({ name: 'ringhub_auth_certificate_logins_total', help: 'Clients admitted by their TLS client certificate (CN as user name)', registers: [this.registry] })
  readonly resumeRequests = new Counter({ name: 'ringhub_resume_requests_total', help: 'Resume-from-offset requests, by door (mqtt, admin) and result (ok, error)', labelNames: ['door', 'result'] as const, registers: [this.registry] })
  readonly aclDenials = new Counter({ name: 'ringhub_acl_denials_total', help: 'Publishes and subscriptions refused by the ACL', labelNames: ['action'] as const, registers: [this.registry] })
  readonly storeCommitSeconds = new Histogram({
    name: 'ringhub_store_commit_seconds',
    help: 'SQLite group-commit latency (one transaction)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  })
  readonly storeCommitOps = new Histogram({
    name: 'ringhub_store_commit_ops',
    help: 'Writes gathered into one SQLite transaction',
    buckets: [1, 2, 5, 10, 50, 100, 500, 1000],
    registers: [this.registry],
  })
  /** Gossip counters, read at scrape time from the membership layer once it is running. */
  gossipSource: (() => { packetsIn: number, rejected: Record<string, number>, unknownTypes: number, events: Record<string, number> }) | undefined
  readonly membershipEvents = counterFrom(this.registry, 'ringhub_membership_events_total', 'Membership changes this hub saw (memberJoined, memberSuspected, memberDied, memberLeft, selfRefuted, ...)', (set) => {
    for (const [event, n] of Object.entries(this.gossipSource?.().events ?? {})) set(n, { event })
  }, ['event'])
  readonly gossipPacketsIn = counterFrom(this.registry, 'ringhub_gossip_packets_in_total', 'Gossip datagrams received', (set) => {
    if (this.gossipSource) set(this.gossipSource().packetsIn)
  })
  readonly gossipRejected = counterFrom(this.registry, 'ringhub_gossip_rejected_total', 'Gossip packets dropped (failed authentication, other label, malformed), by reason', (set) => {
    for (const [reason, n] of Object.entries(this.gossipSource?.().rejected ?? {})) set(n, { reason })
  }, ['reason'])
  readonly gossipUnknownTypes = counterFrom(this.registry, 'ringhub_gossip_unknown_types_total', 'Gossip messages of a type this version does not know (dropped)', (set) => {
    if (this.gossipSource) set(this.gossipSource().unknownTypes)
  })
  /** Routing counters (router events, inter-hub link), read at scrape time once the router runs. */
  routingSource: (() => { events: Record<string, number>, link: { framesIn: number, framesOut: number, bytesIn: number, bytesOut: number, dropped: number, rejected: Record<string, number>, unknownTypes: number, dialed: number, accepted: number, linked: number, replaced: number, silent: number }, sessions?: object, wills?: object, replication?: { inflight: number, lagMs: number } }) | undefined
  readonly routerEvents = counterFrom(this.registry, 'ringhub_router_events_total', 'Routing events: forwarded, forwardRetries, sequenced, duplicates, refusedNotOwner, deliveriesSent, deliveriesDropped (not queued at first; then resent), deliveriesResent, deliveriesReceived, replicated, replicaFailures, handoffs, replays, retriesKeptFirst and heldForRetries (a key line), refusedBehindRefusal, endedByIngress, catchUpReadRetries, tailsResent, olderLogReads (a read from an offset answered with entries before the owner\'s oldest from other hubs\' logs) and olderLogReadFailures (hubs that did not answer such a read); and the delivery cursors: repeatsSkipped, lateHanded, catchUps, caughtUp, catchUpFailures, waitingLetGo, claimsWithoutCursor, cursorsFromBegan (docs/routing.md)', (set) => {
    for (const [event, n] of Object.entries(this.routingSource?.().events ?? {})) set(n, { event })
  }, ['event'])
  readonly sessionEvents = counterFrom(this.registry, 'ringhub_session_handoff_total', 'Persistent sessions moving between hubs: taken, handedOver, discarded, takeFailures, barrierTimeouts', (set) => {
    for (const [event, n] of Object.entries(this.routingSource?.().sessions ?? {})) if (typeof n === 'number') set(n, { event })
  }, ['event'])
  readonly willEvents = counterFrom(this.registry, 'ringhub_wills_total', 'Wills guarded for another hub: guarded (given to guardians), guardFailures, published (here, for a dead or restarted hub)', (set) => {
    const wills = this.routingSource?.().wills as Record<string, number> | undefined
    if (wills) for (const event of ['guarded', 'guardFailures', 'published'] as const) set(wills[event] ?? 0, { event })
  }, ['event'])
  readonly willsHeld = new Gauge({
    name: 'ringhub_wills_held', help: 'Wills of other hubs\' clients held here as a guardian', registers: [this.registry],
    collect: () => {
      const wills = this.routingSource?.().wills as Record<string, number> | undefined
      this.willsHeld.set(wills?.held ?? 0)
    },
  })
  readonly replicationInflight = new Gauge({
    name: 'ringhub_replication_inflight', help: 'Message copies sent to replicas and not confirmed yet', registers: [this.registry],
    collect: () => { this.replicationInflight.set(this.routingSource?.().replication?.inflight ?? 0) },
  })
  readonly replicationLag = new Gauge({
    name: 'ringhub_replication_lag_seconds', help: 'Age of the oldest message copy a replica has not confirmed yet (0: none pending)', registers: [this.registry],
    collect: () => { this.replicationLag.set((this.routingSource?.().replication?.lagMs ?? 0) / 1000) },
  })
  readonly interHubBytes = counterFrom(this.registry, 'ringhub_interhub_bytes_total', 'Bytes on the inter-hub links, by direction', (set) => {
    const link = this.routingSource?.().link
    if (link) { set(link.bytesIn, { direction: 'in' }); set(link.bytesOut, { direction: 'out' }) }
  }, ['direction'])
  readonly interHubFrames = counterFrom(this.registry, 'ringhub_interhub_frames_total', 'Frames on the inter-hub links, by direction', (set) => {
    const link = this.routingSource?.().link
    if (link) { set(link.framesIn, { direction: 'in' }); set(link.framesOut, { direction: 'out' }) }
  }, ['direction'])
  readonly interHubDropped = counterFrom(this.registry, 'ringhub_interhub_dropped_total', 'One-way inter-hub messages dropped (peer unreachable, its send queue full, or its connection lost before they were written)', (set) => {
    const link = this.routingSource?.().link
    if (link) set(link.dropped)
  })
  readonly interHubUnknownTypes = counterFrom(this.registry, 'ringhub_interhub_unknown_types_total', 'Inter-hub messages and requests of a type this version does not know (a newer hub): dropped, the link kept', (set) => {
    const link = this.routingSource?.().link
    if (link) set(link.unknownTypes)
  })
  readonly interHubRejected = counterFrom(this.registry, 'ringhub_interhub_rejected_total', 'Inter-hub connections closed for bad input, by reason', (set) => {
    for (const [reason, n] of Object.entries(this.routingSource?.().link.rejected ?? {})) set(n, { reason })
  }, ['reason'])
  readonly interHubConnections = counterFrom(this.registry, 'ringhub_interhub_connections_total', 'Inter-hub connections: dialed, accepted (TCP), linked (handshake done), replaced (the peer connected again), silent (closed: nothing came from the peer for the silent-link time)', (set) => {
    const link = this.routingSource?.().link
    if (link) for (const event of ['dialed', 'accepted', 'linked', 'replaced', 'silent'] as const) set(link[event], { event })
  }, ['event'])
  /** The router link's state per peer (`TcpPeerBus.linkStates`), read at scrape time once the hub routes. */
  linksSource: (() => ReadonlyArray<{ up: boolean }>) | undefined
  readonly interHubLinks = new Gauge({
    name: 'ringhub_interhub_links', help: 'Peers membership names, by the state of this hub\'s router link to them (up, down): a peer that is alive for gossip but down here cannot be routed to', labelNames: ['state'] as const, registers: [this.registry],
    collect: () => {
      const links = this.linksSource?.() ?? []
      const up = links.filter((l) => l.up).length
      this.interHubLinks.set({ state: 'up' }, up)
      this.interHubLinks.set({ state: 'down' }, links.length - up)
    },
  })
  readonly topicLogEntries = new Gauge({ name: 'ringhub_topic_log_entries', help: 'Entries in this hub\'s topic log (owned keys and replica copies), as of the last retention pass', registers: [this.registry] })
  readonly topicLogBytes = new Gauge({ name: 'ringhub_topic_log_bytes', help: 'Payload bytes in this hub\'s topic log, as of the last retention pass', registers: [this.registry] })
  readonly topicLogPruned = new Counter({ name: 'ringhub_topic_log_pruned_total', help: 'Topic log entries deleted by retention (age, entries or bytes per key)', registers: [this.registry] })
  readonly storeErrors = new Counter({ name: 'ringhub_store_errors_total', help: 'Failed SQLite writes and commits, by reason (disk-full, io, busy, other); nothing a failed one carried was acknowledged', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly storeWritable = new Gauge({ name: 'ringhub_store_writable', help: '1 while the last SQLite write committed, 0 from a failed one (a full disk) until one commits again', registers: [this.registry] })

  /** Memory overload protection (overload-governor.ts), read at scrape time once the hub runs. */
  overloadSource: (() => { active: boolean, capBytes: number, episodes: number, episodesSeenOnRead: number, readChecks: number, activeMs: number, peakRssBytes: number, shed: Record<string, number> }) | undefined
  readonly overloadActive = new Gauge({
    name: 'ringhub_overload_active', help: '1 while the hub is overloaded (memory in use above 70 % of --max-rss-mb until below 60 %): client reads paused, new connections refused (CONNACK 0x03), QoS 0 deliveries dropped', registers: [this.registry],
    collect: () => { this.overloadActive.set(this.overloadSource?.().active === true ? 1 : 0) },
  })
  readonly overloadEvents = counterFrom(this.registry, 'ringhub_overload_events_total', 'Memory overload episodes begun', (set) => {
    if (this.overloadSource) set(this.overloadSource().episodes)
  })
  readonly overloadReadChecks = counterFrom(this.registry, 'ringhub_overload_read_checks_total', 'Looks at memory between two timer samples, prompted by 256 KiB read from clients, by result: below (under high water) or overloaded (the look started an episode, also in ringhub_overload_events_total)', (set) => {
    const source = this.overloadSource?.()
    if (!source) return
    set(source.readChecks - source.episodesSeenOnRead, { result: 'below' })
    set(source.episodesSeenOnRead, { result: 'overloaded' })
  }, ['result'])
  readonly overloadSeconds = counterFrom(this.registry, 'ringhub_overload_seconds_total', 'Time spent overloaded, seconds', (set) => {
    if (this.overloadSource) set(this.overloadSource().activeMs / 1000)
  })
  readonly overloadShed = counterFrom(this.registry, 'ringhub_overload_shed_total', 'What memory overload shed, by action: qos0-dropped (QoS 0 deliveries, also in ringhub_dropped_total{reason="overload"}), connect-refused (CONNACK 0x03, also in ringhub_auth_failures_total{reason="overloaded"}), read-paused (connections whose reads were held)', (set) => {
    for (const [action, n] of Object.entries(this.overloadSource?.().shed ?? {})) set(n, { action })
  }, ['action'])
  readonly memoryCap = new Gauge({
    name: 'ringhub_memory_cap_bytes', help: 'The process memory cap (--max-rss-mb), bytes; 0 = off', registers: [this.registry],
    collect: () => { this.memoryCap.set(this.overloadSource?.().capBytes ?? 0) },
  })
  readonly memoryPeak = new Gauge({
    name: 'ringhub_memory_rss_peak_bytes', help: 'Highest RSS the overload protection sampled (every 100 ms while --max-rss-mb is set), bytes', registers: [this.registry],
    collect: () => { this.memoryPeak.set(this.overloadSource?.().peakRssBytes ?? 0) },
  })

  constructor(opts: { processMetrics?: boolean } = {}) {
    this.storeWritable.set(1)
    // Every reason (store/store-failure.ts) from the start, at 0, so a dashboard's rate() sees the first failure.
    for (const reason of ['disk-full', 'io', 'busy', 'other']) this.storeErrors.inc({ reason }, 0)
    // Process metrics (RSS, event-loop lag, GC) only when this registry is the process's one.
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry })
  }

  async render(): Promise<string> {
    return this.registry.metrics()
  }
}

type SetTotal = (total: number, labels?: Record<string, string>) => void

/**
 * A Prometheus counter whose value is read from a running total at scrape time. The counter is
 * advanced by the difference, so it stays monotonic like any other.
 */
function counterFrom(registry: Registry, name: string, help: string, read: (set: SetTotal) => void, labelNames: string[] = []): Counter {
  const seen = new Map<string, number>()
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      read((total, labels = {}) => {
        const key = JSON.stringify(labels)
        const delta = total - (seen.get(key) ?? 0)
        if (delta > 0) {
          this.inc(labels, delta)
          seen.set(key, total)
        }
      })
    },
  })
}
