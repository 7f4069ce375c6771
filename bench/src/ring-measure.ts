// The simulator comes from the hub's compiled output (see broker-ringhub.ts for why hub/dist).
import { seededRng, type Rng } from '../../hub/dist/base/rng.js'
import type { GossipProfile } from '../../hub/dist/membership/profiles.js'
import { RingSim } from '../../hub/dist/membership/sim/ring-sim.js'

/** One measured configuration: a profile, a ring size, a loss rate on every link. */
export interface RingCase {
  profile: GossipProfile
  n: number
  lossRate: number
  /** Crash trials, each on a fresh ring with its own seed. */
  crashTrials: number
  /** Joins measured (one per trial, the first `joinTrials` trials). */
  joinTrials: number
  /** Quiet window for traffic and false positives (first trial only), ms of virtual time. */
  windowMs: number
  seed: number
}

export interface WindowResult {
  windowMs: number
  /** Datagrams and bytes (datagrams + TCP streams) each member sent per second, averaged. */
  packetsPerMemberPerS: number
  bytesPerMemberPerS: number
  /** The TCP share of those bytes (push-pull, TCP pings). */
  streamBytesPerMemberPerS: number
  /** Suspicions and deaths seen while nobody crashed: false positives. */
  suspicions: number
  falseDeaths: number
  /** Probes that UDP lost and only the TCP fallback answered (the loss that did not become a suspicion). */
  probesTcpOnly: number
  probes: number
}

export interface CrashResult {
  /** Crash → the first member declares it dead, and → every other member holds it dead, ms. */
  firstMs: number
  allMs: number
}

export interface CaseResult {
  window: WindowResult
  crashes: CrashResult[]
  /** Join → every member holds the newcomer alive, ms. */
  joins: number[]
  /** Trials that did not finish (a bug or a limit too tight), with why. */
  failures: string[]
  wallMs: number
}

/** Virtual time after start-up before anything is measured: every member's own start-up
 *  announcement (the only gossip in a settled ring) has died out by then. */
const WARMUP_MS = 5_000
/** Virtual-time limit of one detection or join. */
const LIMIT_MS = 180_000

export async function runCase(c: RingCase): Promise<CaseResult> {
  const wallStart = performance.now()
  const result: CaseResult = { window: emptyWindow(), crashes: [], joins: [], failures: [], wallMs: 0 }
  for (let trial = 0; trial < c.crashTrials; trial++) {
    const seed = (c.seed * 7919 + trial) >>> 0
    const rng = seededRng(seed ^ 0x5bd1e995)
    const sim = new RingSim({ seed, profile: c.profile, links: { lossRate: c.lossRate } })
    const ids = Array.from({ length: c.n }, (_, i) => `h${i}`)
    sim.addSettled(ids)
    await sim.run(WARMUP_MS)
    try {
      if (trial === 0) result.window = await measureWindow(sim, ids, c.windowMs)
      if (trial < c.joinTrials) result.joins.push(await measureJoin(sim, ids, rng, trial))
      // Crash at a random point of the probe period, so trials differ in phase.
      await sim.run(rng.int(c.profile.probeIntervalMs))
      result.crashes.push(await measureCrash(sim, ids, ids[rng.int(ids.length)] as string))
    } catch (err) {
      result.failures.push(`trial ${trial} (seed ${seed}): ${(err as Error).message}`)
    }
  }
  result.wallMs = Math.round(performance.now() - wallStart)
  return result
}

async function measureWindow(sim: RingSim, ids: readonly string[], windowMs: number): Promise<WindowResult> {
  const before = ids.map((id) => sim.traffic(id))
  const probesBefore = ids.map((id) => ({ ...sim.node(id).stats }))
  const fromTransition = sim.transitions.length
  await sim.run(windowMs)
  let packets = 0
  let packetBytes = 0
  let streamBytes = 0
  let probes = 0
  let probesTcpOnly = 0
  ids.forEach((id, i) => {
    const now = sim.traffic(id)
    const was = before[i] as typeof now
    packets += now.packetsSent - was.packetsSent
    packetBytes += now.packetBytesSent - was.packetBytesSent
    streamBytes += now.streamBytesSent - was.streamBytesSent
    const stats = sim.node(id).stats
    const statsWas = probesBefore[i] as typeof stats
    probes += stats.probes - statsWas.probes
    probesTcpOnly += stats.probesTcpOnly - statsWas.probesTcpOnly
  })
  const perMemberPerS = (x: number): number => x / ids.length / (windowMs / 1000)
  const seen = sim.transitions.slice(fromTransition)
  return {
    windowMs,
    packetsPerMemberPerS: perMemberPerS(packets),
    bytesPerMemberPerS: perMemberPerS(packetBytes + streamBytes),
    streamBytesPerMemberPerS: perMemberPerS(streamBytes),
    suspicions: seen.filter((t) => t.state === 'suspect').length,
    falseDeaths: seen.filter((t) => t.state === 'dead').length,
    probes,
    probesTcpOnly,
  }
}

/** Join attempts, and the wait before each retry, as the hub's Cluster does (1 s, doubling). */
const JOIN_ATTEMPTS = 5
const JOIN_RETRY_MS = 1_000

/**
 * A new member joins through one random member; until every member holds it alive. Under loss
 * the join's TCP exchange can outlast its timeout (lost SYNs cost 1 s, 2 s, ...): retried like
 * the hub does, and the time includes the retries.
 */
async function measureJoin(sim: RingSim, ids: readonly string[], rng: Rng, trial: number): Promise<number> {
  const joiner = `joiner${trial}`
  const startMs = sim.clock.now()
  sim.add(joiner)
  const seed = sim.address(ids[rng.int(ids.length)] as string)
  let reached = 0
  for (let attempt = 0; attempt < JOIN_ATTEMPTS && reached !== 1; attempt++) {
    if (attempt > 0) await sim.run(JOIN_RETRY_MS * 2 ** (attempt - 1))
    reached = await sim.settled(sim.node(joiner).join([seed]), LIMIT_MS)
  }
  if (reached !== 1) throw new Error(`${joiner}: the seed did not answer in ${JOIN_ATTEMPTS} attempts`)
  await sim.runUntil(() => sim.everyoneSees([joiner], 'alive', ids), LIMIT_MS)
  return lastAt(sim, joiner, 'alive', ids.length) - startMs
}

async function measureCrash(sim: RingSim, ids: readonly string[], victim: string): Promise<CrashResult> {
  const others = sim.ids().filter((id) => id !== victim)
  const startMs = sim.clock.now()
  const fromTransition = sim.transitions.length
  sim.crash(victim)
  await sim.runUntil(() => sim.everyoneSees([victim], 'dead', others), LIMIT_MS)
  const deaths = sim.transitions.slice(fromTransition).filter((t) => t.member === victim && t.state === 'dead')
  return { firstMs: (deaths[0]?.atMs ?? NaN) - startMs, allMs: lastAt(sim, victim, 'dead', others.length) - startMs }
}

/** When the `count`-th distinct observer last changed to `state` about `member`. */
function lastAt(sim: RingSim, member: string, state: string, count: number): number {
  const at = new Map<string, number>()
  for (const t of sim.transitions) if (t.member === member && t.state === state) at.set(t.observer, t.atMs)
  if (at.size < count) throw new Error(`${member}: only ${at.size} of ${count} saw it ${state}`)
  return Math.max(...at.values())
}

function emptyWindow(): WindowResult {
  return { windowMs: 0, packetsPerMemberPerS: NaN, bytesPerMemberPerS: NaN, streamBytesPerMemberPerS: NaN, suspicions: NaN, falseDeaths: NaN, probes: 0, probesTcpOnly: 0 }
}
