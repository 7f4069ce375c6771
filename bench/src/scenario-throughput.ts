import type { ClientSpec, PublisherSpec, SubscriberSpec, WorkerSnapshot } from './ipc-protocol.js'
import { machinePct, readMachineCpu } from './machine-cpu.js'
import { frameCost } from './ring-frames.js'
import { cpuPct, sleep, type MetricSpec, type RowSpec, type Scenario } from './scenario.js'
import type { Layout, NodeCounters, SystemKind } from './system-handle.js'
import { deal, WorkerPool } from './worker-pool.js'

/** Foreign CPU use (in % of one core) above which a measurement is flagged as disturbed. */
export const OTHER_CPU_WARN_PCT = 20
/** Longest wait for the broker to work off its backlog after the measurement. */
const DRAIN_MAX_MS = 8000

export interface ThroughputShape {
  name: string
  title: string
  qos: 0 | 1
  /** Publishers, each on its own topic (one device key each). */
  publishers: number
  /** Subscribers per publisher's topic (1 for N→N, 100 for fan-out). */
  subscribersPerTopic: number
  /** QoS 1 PUBLISHes in flight per publisher. */
  window: number
  payloadBytes: number
  metric: MetricSpec
  /** Where clients connect in a system of several nodes (default `single`). */
  layout?: Layout
  /** See Scenario: systems, ring-table rows, the issue-2 scenario of the local path. */
  systems?: readonly SystemKind[]
  rows?: readonly RowSpec[]
  issue2Scenario?: string
  /** Extra words for the description (the layout, what is counted). */
  note?: string
}

/** Metrics of systems that count their inter-hub traffic (the ring), per message the owner numbered. */
export const FRAME_METRICS: readonly MetricSpec[] = [
  { key: 'deliverFramesPerHub', label: 'deliver frames/msg/hub', unit: 'frames', better: 'lower', digits: 2 },
  { key: 'linkFramesPerMsg', label: 'inter-hub frames/msg', unit: 'frames', better: 'lower', digits: 2 },
]

/**
 * Saturated throughput: publishers send as fast as the broker accepts (QoS 0: socket
 * back-pressure; QoS 1: a fixed window of unacknowledged PUBLISHes), subscribers count what
 * arrives. After a warm-up, the rate is PUBLISH packets received by all subscribers over the
 * measured interval, each worker timing its own share. In a system of several nodes the layout
 * says where publishers and subscribers connect and which topics they use (see `Layout`).
 */
export function throughputScenario(shape: ThroughputShape): Scenario {
  const subscribers = shape.publishers * shape.subscribersPerTopic
  const layout = shape.layout ?? 'single'
  const counted = shape.rows?.some((r) => FRAME_METRICS.some((m) => m.key === r.metric)) ?? false
  return {
    name: shape.name,
    title: shape.title,
    description: `${shape.publishers} publisher(s) → ${subscribers} subscriber(s), QoS ${shape.qos}` +
      (shape.qos === 1 ? ` (window ${shape.window} per publisher, subscribers PUBACK)` : '') +
      `, ${shape.payloadBytes}-byte payloads, clean sessions; ${shape.metric.label} received by subscribers, saturated.` +
      (shape.note ? ` ${shape.note}` : ''),
    metrics: [shape.metric, {
      // CPU cost rather than speed: holds steady when another process takes CPU from the broker.
      key: 'brokerUsPerMsg', label: shape.systems ? 'CPU µs/msg, all procs' : 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 1,
    }, ...(counted ? FRAME_METRICS : [])],
    connections: () => shape.publishers + subscribers,
    budgetMs: (o) => o.warmupMs + o.durationMs + DRAIN_MAX_MS + 4000,
    ...(shape.systems ? { systems: shape.systems } : {}),
    ...(shape.rows ? { rows: shape.rows } : {}),
    ...(shape.issue2Scenario ? { issue2Scenario: shape.issue2Scenario } : {}),
    async run(system, ctx) {
      const { options } = ctx
      const tag = `${shape.name}-${system.kind}-${process.pid}`
      const place = await system.place(layout, shape.publishers)
      const pubs: PublisherSpec[] = place.topics.map((topic, i) => ({
        role: 'publisher', clientId: `${tag}-p${i}`, port: place.publishPort, topic, qos: shape.qos, window: shape.window, payloadBytes: shape.payloadBytes,
      }))
      const subs: SubscriberSpec[] = pubs.flatMap((p, i) => Array.from({ length: shape.subscribersPerTopic }, (_, j) => ({
        role: 'subscriber' as const, clientId: `${tag}-s${i}-${j}`, port: place.subscribePorts[j % place.subscribePorts.length] as number, filter: p.topic, qos: shape.qos,
      })))
      // Publishers and subscribers in separate processes, at most `workers` of each kind.
      const pubPlan = deal<ClientSpec>(pubs, Math.min(options.workers, pubs.length))
      const subPlan = deal<ClientSpec>(subs, Math.min(options.workers, subs.length))
      const pool = await WorkerPool.start(pubPlan.length + subPlan.length, ctx.registry, ctx.output)
      try {
        const counters0 = await system.counters?.()
        await pool.setup(place.publishPort, [...pubPlan, ...subPlan])
        await pool.startPublishing()
        await sleep(options.warmupMs)
        const [w0, b0, m0] = await Promise.all([pool.snapshot(), system.stats(), readMachineCpu()])
        await sleep(options.durationMs)
        const [w1, b1, m1] = await Promise.all([pool.snapshot(), system.stats(), readMachineCpu()])

        const aliveAfterMeasurement = system.alive
        const drain = await pool.drain(DRAIN_MAX_MS)
        // After the drain, so every message the owner numbered has been fanned out and counted.
        const counters1 = counters0 ? await system.counters?.() : undefined

        const rate = (pick: (s: WorkerSnapshot) => number): number =>
          w1.reduce((total, after, i) => {
            const before = w0[i] as WorkerSnapshot
            return total + (pick(after) - pick(before)) / ((after.atMs - before.atMs) / 1000)
          }, 0)
        const lost = w1.reduce((n, s) => n + s.lost, 0)
        const warnings: string[] = []
        if (lost > 0) warnings.push(`${lost} connection(s) closed during the run`)
        if (!aliveAfterMeasurement) warnings.push('broker process died during the measurement')
        if (!drain.drained) warnings.push(`subscribers still receiving ${DRAIN_MAX_MS} ms after publishers stopped (${drain.afterHalt} messages since)`)
        const received = rate((s) => s.received)
        if (received === 0) warnings.push('no messages received in the measured interval')
        const brokerPct = cpuPct(b0, b1)
        const loadPct = w1.reduce((total, after, i) => total + cpuPct(w0[i] as WorkerSnapshot, after), 0)
        const otherPct = Math.max(0, machinePct(m0, m1) - brokerPct - loadPct)
        if (otherPct > OTHER_CPU_WARN_PCT) warnings.push(`other processes used ${otherPct.toFixed(0)}% of a core during the measurement`)
        const deliveredDelta = w1.reduce((n, after, i) => n + after.received - (w0[i] as WorkerSnapshot).received, 0)
        const brokerCpuUs = b1.cpuUserUs + b1.cpuSystemUs - b0.cpuUserUs - b0.cpuSystemUs
        const frames = counters0 && counters1 ? frameMetrics(counters0, counters1, place.roles) : undefined
        return {
          metrics: {
            [shape.metric.key]: received,
            brokerUsPerMsg: deliveredDelta > 0 ? brokerCpuUs / deliveredDelta : NaN,
            ...(frames && counted ? { deliverFramesPerHub: frames.deliverFramesPerHub, linkFramesPerMsg: frames.linkFramesPerMsg } : {}),
          },
          cpu: { brokerPct, loadPct, otherPct },
          details: {
            publishedPerS: Math.round(rate((s) => s.sent)),
            ...(shape.qos === 1 ? { pubackedPerS: Math.round(rate((s) => s.acked)) } : {}),
            workers: pool.size,
            // Messages delivered after the publishers were aborted: the broker's backlog.
            backlogMsgs: drain.afterHalt,
            drainMs: drain.elapsedMs,
            brokerRssMiB: Math.round(b1.rssBytes / 1048576),
            topics: place.topics.join(' '),
            ...Object.fromEntries(Object.entries(place.roles).map(([k, v]) => [`role.${k}`, v])),
            ...nodeCpu(b0.nodeCpuUs, b1.nodeCpuUs, deliveredDelta),
            ...(frames?.details ?? {}),
          },
          warnings,
        }
      } finally {
        await pool.stop()
      }
    },
  }
}

/** Each process's CPU µs per delivered message (systems of several processes), for the JSON. */
export function nodeCpu(before: Record<string, number> | undefined, after: Record<string, number> | undefined, delivered: number): Record<string, number> {
  if (!before || !after || delivered <= 0) return {}
  return Object.fromEntries(Object.entries(after).map(([node, us]) => [`cpuUsPerMsg.${node}`, Math.round((us - (before[node] ?? 0)) / delivered * 10) / 10]))
}

/** Every node's counter deltas over a run, as `hub.<node>.<counter>`, for the JSON. */
export function counterDeltas(before: Record<string, NodeCounters>, after: Record<string, NodeCounters>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [node, counters] of Object.entries(after)) {
    for (const [name, value] of Object.entries(counters)) out[`hub.${node}.${name}`] = value - (before[node]?.[name] ?? 0)
  }
  return out
}

/** Frame metrics from the ring's counters, plus every hub's counter deltas for the JSON. */
function frameMetrics(before: Record<string, NodeCounters>, after: Record<string, NodeCounters>, roles: Record<string, string>): { deliverFramesPerHub: number, linkFramesPerMsg: number, details: Record<string, number> } {
  const owner = roles.owner ?? ''
  const cost = frameCost(before, after, owner, (roles.subscribers ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''))
  const details: Record<string, number> = { ownerSequenced: cost.sequenced, interestedHubs: cost.interestedHubs, ...counterDeltas(before, after) }
  return { deliverFramesPerHub: cost.deliverFramesPerHub, linkFramesPerMsg: cost.linkFramesPerMsg, details }
}
