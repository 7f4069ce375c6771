import type { ClientSpec, PublisherSpec, SubscriberSpec, WorkerSnapshot } from './ipc-protocol.js'
import { machinePct, readMachineCpu } from './machine-cpu.js'
import { cpuPct, sleep, type MetricSpec, type Scenario } from './scenario.js'
import { deal, WorkerPool } from './worker-pool.js'

/** Foreign CPU use (in % of one core) above which a measurement is flagged as disturbed. */
export const OTHER_CPU_WARN_PCT = 20
/** Longest wait for the broker to work off its backlog after the measurement. */
const DRAIN_MAX_MS = 8000

export interface ThroughputShape {
  name: string
  title: string
  qos: 0 | 1
  /** Publishers, each on its own topic devices/p<i>/t. */
  publishers: number
  /** Subscribers per publisher's topic (1 for N→N, 100 for fan-out). */
  subscribersPerTopic: number
  /** QoS 1 PUBLISHes in flight per publisher. */
  window: number
  payloadBytes: number
  metric: MetricSpec
}

/**
 * Saturated throughput: publishers send as fast as the broker accepts (QoS 0: socket
 * back-pressure; QoS 1: a fixed window of unacknowledged PUBLISHes), subscribers count what
 * arrives. After a warm-up, the rate is PUBLISH packets received by all subscribers over the
 * measured interval, each worker timing its own share.
 */
export function throughputScenario(shape: ThroughputShape): Scenario {
  const subscribers = shape.publishers * shape.subscribersPerTopic
  return {
    name: shape.name,
    title: shape.title,
    description: `${shape.publishers} publisher(s) → ${subscribers} subscriber(s), QoS ${shape.qos}` +
      (shape.qos === 1 ? ` (window ${shape.window} per publisher, subscribers PUBACK)` : '') +
      `, ${shape.payloadBytes}-byte payloads, clean sessions; ${shape.metric.label} received by subscribers, saturated.`,
    metrics: [shape.metric, {
      // CPU cost rather than speed: holds steady when another process takes CPU from the broker.
      key: 'brokerUsPerMsg', label: 'broker CPU µs/msg', unit: 'µs', better: 'lower', digits: 1,
    }],
    connections: () => shape.publishers + subscribers,
    budgetMs: (o) => o.warmupMs + o.durationMs + DRAIN_MAX_MS + 4000,
    async run(broker, ctx) {
      const { options } = ctx
      const tag = `${shape.name}-${broker.kind}-${process.pid}`
      const pubs: PublisherSpec[] = Array.from({ length: shape.publishers }, (_, i) => ({
        role: 'publisher', clientId: `${tag}-p${i}`, topic: `devices/p${i}/t`, qos: shape.qos, window: shape.window, payloadBytes: shape.payloadBytes,
      }))
      const subs: SubscriberSpec[] = pubs.flatMap((p, i) => Array.from({ length: shape.subscribersPerTopic }, (_, j) => ({
        role: 'subscriber' as const, clientId: `${tag}-s${i}-${j}`, filter: p.topic, qos: shape.qos,
      })))
      // Publishers and subscribers in separate processes, at most `workers` of each kind.
      const pubPlan = deal<ClientSpec>(pubs, Math.min(options.workers, pubs.length))
      const subPlan = deal<ClientSpec>(subs, Math.min(options.workers, subs.length))
      const pool = await WorkerPool.start(pubPlan.length + subPlan.length, ctx.registry, ctx.output)
      try {
        await pool.setup(broker.port, [...pubPlan, ...subPlan])
        await pool.startPublishing()
        await sleep(options.warmupMs)
        const [w0, b0, m0] = await Promise.all([pool.snapshot(), broker.stats(), readMachineCpu()])
        await sleep(options.durationMs)
        const [w1, b1, m1] = await Promise.all([pool.snapshot(), broker.stats(), readMachineCpu()])

        const aliveAfterMeasurement = broker.alive
        const drain = await pool.drain(DRAIN_MAX_MS)

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
        return {
          metrics: { [shape.metric.key]: received, brokerUsPerMsg: deliveredDelta > 0 ? brokerCpuUs / deliveredDelta : NaN },
          cpu: { brokerPct, loadPct, otherPct },
          details: {
            publishedPerS: Math.round(rate((s) => s.sent)),
            ...(shape.qos === 1 ? { pubackedPerS: Math.round(rate((s) => s.acked)) } : {}),
            workers: pool.size,
            // Messages delivered after the publishers were aborted: the broker's backlog.
            backlogMsgs: drain.afterHalt,
            drainMs: drain.elapsedMs,
            brokerRssMiB: Math.round(b1.rssBytes / 1048576),
          },
          warnings,
        }
      } finally {
        await pool.stop()
      }
    },
  }
}
