import { suspicionBoundsMs } from './suspicion.js'

/**
 * SWIM/Lifeguard tuning, chosen with `--profile`. `lan` is memberlist's `DefaultLANConfig`;
 * `edge` trades bandwidth for detection speed on small rings sharing one LAN.
 */
export type ProfileName = 'lan' | 'edge'

export interface GossipProfile {
  name: ProfileName
  /** Time between probes of one member each (SWIM protocol period T'), ms. lan 1000. */
  probeIntervalMs: number
  /** Wait for a direct ack before asking others to probe, ms; keep ≥ the 99th-percentile RTT. lan 500. */
  probeTimeoutMs: number
  /** Members asked to ping-req a target that missed its direct ack (SWIM §3.1 k). lan 3. */
  indirectChecks: number
  /** Broadcasts are sent `retransmitMult × ceil(log10(N + 1))` times (`retransmitLimit`). lan 4. */
  retransmitMult: number
  /** Minimum suspicion timeout = `suspicionMult × max(1, log10 N) × probeIntervalMs`. lan 4. */
  suspicionMult: number
  /** Maximum suspicion timeout (no confirmations) = this × the minimum (Lifeguard). lan 6. */
  suspicionMaxTimeoutMult: number
  /** Time between gossip rounds (piggyback-free dissemination of queued broadcasts), ms. lan 200. */
  gossipIntervalMs: number
  /** Random members sent queued broadcasts each gossip round. lan 3. */
  gossipNodes: number
  /** How long dead members still receive gossip (so they learn they were declared dead and
   *  refute), and stay in the table before being reaped, ms. lan 30 000. */
  gossipToTheDeadMs: number
  /** Full-state TCP exchange with one random member, every this many ms (scaled up beyond 32
   *  members by `pushPullScaleMs`); 0 disables. lan 30 000. */
  pushPullIntervalMs: number
  /** Push-pull with one random dead member (serf's reconnect), every this many ms while any is
   *  dead, one attempt at a time; 0 disables. After a partition both sides hold the other dead,
   *  and only such an attempt finds it again once the network heals. Ringhub: lan 10 000 (serf
   *  30 000), edge 2 000. */
  reconnectIntervalMs: number
  /** Connect/read/write deadline of TCP push-pull and TCP fallback probes, ms. lan 10 000. */
  tcpTimeoutMs: number
  /** Lifeguard Local Health Multiplier ceiling: timeouts stretch up to this factor. lan 8. */
  awarenessMaxMultiplier: number
  /** Largest gossip datagram, bytes, envelope included; 1400 stays under a 1500-byte MTU. lan 1400. */
  udpPacketBytes: number
  /** Broadcast queue bound; beyond it the most-sent broadcast is dropped and counted. lan 4096. */
  maxQueuedBroadcasts: number
  /** A dead member's id may be taken by a new gossip address once it has been dead this long,
   *  ms (memberlist `DeadNodeReclaimTime`); a left one at once; 0 = never for a dead one.
   *  Ringhub uses `gossipToTheDeadMs`: a member wrongly declared dead hears it within that time
   *  and refutes from its old address, so a later claim from elsewhere is a restart (a new
   *  DHCP address or gossip port), not a second live process. lan 30 000. */
  deadMemberReclaimMs: number
}

/** memberlist `DefaultLANConfig` (config.go). */
export const LAN_PROFILE: Readonly<GossipProfile> = Object.freeze({
  name: 'lan',
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  tcpTimeoutMs: 10_000,
  awarenessMaxMultiplier: 8,
  udpPacketBytes: 1400,
  maxQueuedBroadcasts: 4096,
  deadMemberReclaimMs: 30_000,
})

/**
 * Fast detection for rings of up to ~10 hubs on one LAN (sub-millisecond RTTs). Goal: a crashed
 * member is dead in every view within 2 s. With N ≤ 10, log10 N ≤ 1, so (`detectionEstimate`):
 * first probe ≤ 200 ms + probe round 200 ms + minimum suspicion 3 × 200 = 600 ms + dissemination
 * 2 × 50 ms = 1.1 s expected, leaving slack for loss and for the one confirmation (k = 1) to
 * arrive. Why each number:
 * - probe 200 ms / timeout 100 ms: 5 probes per second per member, still a few hundred bytes/s;
 *   100 ms is two orders above a LAN RTT, and an event-loop stall beyond it raises the Local
 *   Health Multiplier, which stretches our own timeouts (up to 8×) rather than accusing others.
 * - suspicionMult 3 (memberlist's `DefaultLocalConfig` value): k = 1 confirmation drives the
 *   timer to 600 ms; with none the Lifeguard maximum is 6 × 600 = 3.6 s, time for a paused or
 *   lossy member to refute, so 10 % loss does not cost false deaths.
 * - gossip 50 ms: news reaches 10 members in about 2 rounds (fan-out 3), 100 ms.
 * - push-pull 10 s, TCP timeout 2 s, gossip to the dead 10 s: a partition heals within seconds.
 */
export const EDGE_PROFILE: Readonly<GossipProfile> = Object.freeze({
  name: 'edge',
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 3,
  suspicionMaxTimeoutMult: 6,
  gossipIntervalMs: 50,
  gossipNodes: 3,
  gossipToTheDeadMs: 10_000,
  pushPullIntervalMs: 10_000,
  reconnectIntervalMs: 2_000,
  tcpTimeoutMs: 2_000,
  awarenessMaxMultiplier: 8,
  udpPacketBytes: 1400,
  maxQueuedBroadcasts: 4096,
  deadMemberReclaimMs: 10_000,
})

export const PROFILES: Readonly<Record<ProfileName, Readonly<GossipProfile>>> = Object.freeze({ lan: LAN_PROFILE, edge: EDGE_PROFILE })

/**
 * How long a member asked to probe for another waits for the target's ack before it sends a nack:
 * 80 % of the profile's probe timeout, unscaled (the Lifeguard paper, footnote 5). The requester asks
 * one (scaled) probe timeout into its period and decides at the end of it, so it leaves the
 * nack at least one unscaled probe timeout (at health 0: 1000 − 500 ms with lan); a helper
 * waiting a whole timeout, or one stretched by its own health, would always answer after that
 * decision, and every probe of a dead member would count its nacks as missing and wrongly
 * raise the requester's health multiplier (memberlist waits the whole timeout and has this
 * flaw at health 0; swift-cluster-membership#6 fixed it the same way).
 */
export function indirectNackTimeoutMs(profile: Pick<GossipProfile, 'probeTimeoutMs'>): number {
  return Math.floor(0.8 * profile.probeTimeoutMs)
}

/**
 * memberlist `pushPullScale`: beyond 32 members the push-pull interval grows by one interval
 * per doubling (`ceil(log2 N − log2 32) + 1` ×), so full-state traffic stays bounded as N grows.
 */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  const threshold = 32
  if (n <= threshold) return intervalMs
  return (Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1) * intervalMs
}

/**
 * Gossip rounds for news to reach `n` members when every informed member tells `fanOut` more
 * per round: the smallest r with (fanOut + 1)^r ≥ n (counted, not via logarithms, so powers
 * land exactly). Optimistic: it ignores repeats and loss, which `retransmitMult` pays for.
 */
export function disseminationRounds(n: number, fanOut: number): number {
  if (n <= 1) return 0
  if (fanOut < 1) return Number.POSITIVE_INFINITY
  let rounds = 0
  for (let reached = 1; reached < n; reached *= fanOut + 1) rounds++
  return rounds
}

export interface DetectionEstimate {
  /** Until some member starts probing the crashed one: one probe interval (each of the N − 1
   *  others probes one member per interval, round-robin, SWIM §4.3). */
  firstProbeMs: number
  /** The failing probe: direct ping, timeout, ping-req; suspect at the end of the interval. */
  probeMs: number
  /** Minimum suspicion timeout: with Lifeguard's k = suspicionMult − 2 confirmations arriving
   *  two probe intervals before it (their design point), or with k = 0. */
  suspicionMs: number
  /** Gossip rounds for the dead message (or the suspicion start) to reach every member. */
  disseminationMs: number
  /** Sum: expected time until every member has declared the crashed member dead. */
  totalMs: number
  /** Suspicion timeout if no confirmation ever arrives (Lifeguard maximum). */
  maxSuspicionMs: number
}

/**
 * Expected failure-detection time of a crashed member in a healthy ring of `n` (the crashed one
 * included): the bound the simulator and fault tests check and the docs quote.
 */
export function detectionEstimate(profile: GossipProfile, n: number): DetectionEstimate {
  const { minMs, maxMs } = suspicionBoundsMs({
    n, suspicionMult: profile.suspicionMult, probeIntervalMs: profile.probeIntervalMs,
    suspicionMaxTimeoutMult: profile.suspicionMaxTimeoutMult,
  })
  const firstProbeMs = profile.probeIntervalMs
  const probeMs = profile.probeIntervalMs
  const disseminationMs = disseminationRounds(n, profile.gossipNodes) * profile.gossipIntervalMs
  return {
    firstProbeMs, probeMs, suspicionMs: minMs, disseminationMs,
    totalMs: firstProbeMs + probeMs + minMs + disseminationMs,
    maxSuspicionMs: maxMs,
  }
}

export interface SteadyStateSizes {
  /** Encoded ping and ack packets, envelope included, bytes. */
  pingBytes: number
  ackBytes: number
  /** One member's entry in a push-pull state, bytes. */
  pushPullMemberBytes: number
}

/**
 * Bytes per second one member sends in a quiet ring (no membership changes, so no gossip
 * rounds carry anything): one ping and, on average, one ack per probe interval; and push-pull,
 * where it starts one exchange per (scaled) interval and is picked by others as often, sending
 * its full state of `n` entries each time. Payload bytes only, no IP/UDP/TCP headers.
 */
export function steadyStateBytesPerSecond(profile: GossipProfile, n: number, sizes: SteadyStateSizes): number {
  const probesPerSecond = n > 1 ? 1000 / profile.probeIntervalMs : 0
  const probing = probesPerSecond * (sizes.pingBytes + sizes.ackBytes)
  const pushPullMs = pushPullScaleMs(profile.pushPullIntervalMs, n)
  const pushPull = n > 1 && pushPullMs > 0 ? (2 * n * sizes.pushPullMemberBytes * 1000) / pushPullMs : 0
  return probing + pushPull
}
