import { machinePct, readMachineCpu } from './machine-cpu.js'
import type { WorkerSnapshot } from './ipc-protocol.js'
import { cpuPct, type RowSpec, type Scenario } from './scenario.js'
import { OTHER_CPU_WARN_PCT, counterDeltas, nodeCpu } from './scenario-throughput.js'
import type { Layout, SystemKind } from './system-handle.js'
import { WorkerPool } from './worker-pool.js'

/**
 * Warm-up of the ring scenarios' latency runs at least (aedes+redis gets the same): right after
 * a ring forms, the first publishes of a key pay one-time costs (the owner takes the key over,
 * links open, code is compiled) that held the p99 of a 0.5 s `--quick` warm-up near 300 ms while
 * full runs of the same code measured 8-9 ms.
 */
const MULTI_NODE_MIN_WARMUP_MS = 2000

/** A latency scenario other than the single-broker one: where the clients are, on which systems. */
export interface LatencyShape {
  name: string
  title: string
  layout: Layout
  systems: readonly SystemKind[]
  rows: readonly RowSpec[]
  note: string
}

/**
 * Latency under a fixed, moderate load: one QoS 1 publisher at `latencyRatePerS` to one QoS 1
 * subscriber, both in one worker process (one clock). p50/p99/max of scheduled-send → receive.
 */
export function latencyScenario(shape?: LatencyShape): Scenario {
  const warmupOf = (ms: number): number => (shape ? Math.max(ms, MULTI_NODE_MIN_WARMUP_MS) : ms)
  return {
    name: shape?.name ?? 'latency-qos1',
    title: shape?.title ?? 'Latency, QoS 1 at fixed rate',
    description: 'One QoS 1 publisher at a fixed rate (default 2,000 msg/s) → one QoS 1 subscriber in the same process; ' +
      'latency from the scheduled send time (no coordinated omission) to receipt, after a warm-up.' + (shape ? ` ${shape.note}` : ''),
    ...(shape ? { systems: shape.systems, rows: shape.rows } : {}),
    metrics: [
      { key: 'p50Ms', label: 'p50', unit: 'ms', better: 'lower', digits: 2 },
      { key: 'p99Ms', label: 'p99', unit: 'ms', better: 'lower', digits: 2, target: { kind: 'max', value: 10 } },
      { key: 'maxMs', label: 'max', unit: 'ms', better: 'lower', digits: 2 },
    ],
    connections: () => 2,
    budgetMs: (o) => warmupOf(o.latencyWarmupMs) + o.latencyDurationMs + 5000,
    async run(broker, ctx) {
      const { options } = ctx
      const place = await broker.place(shape?.layout ?? 'single', 1)
      const pool = await WorkerPool.start(1, ctx.registry, ctx.output)
      try {
        const counters0 = await broker.counters?.()
        const [[w0], b0, m0] = await Promise.all([pool.snapshot(), broker.stats(), readMachineCpu()])
        const result = await pool.latency(0, place.publishPort, {
          clientIdPrefix: `lat-${broker.kind}-${process.pid}`,
          topic: shape ? place.topics[0] as string : 'devices/lat/t',
          subscribePort: place.subscribePorts[0] as number,
          ratePerS: options.latencyRatePerS,
          warmupMs: warmupOf(options.latencyWarmupMs),
          durationMs: options.latencyDurationMs,
          payloadBytes: 64,
        })
        const [[w1], b1, m1] = await Promise.all([pool.snapshot(), broker.stats(), readMachineCpu()])
        const counters1 = counters0 ? await broker.counters?.() : undefined
        const brokerPct = cpuPct(b0, b1)
        const loadPct = cpuPct(w0 as WorkerSnapshot, w1 as WorkerSnapshot)
        const otherPct = Math.max(0, machinePct(m0, m1) - brokerPct - loadPct)
        const warnings: string[] = []
        if (result.received < result.sent) warnings.push(`${result.sent - result.received} of ${result.sent} QoS 1 messages not received`)
        if (result.lost > 0) warnings.push(`${result.lost} connection(s) closed during the run`)
        if (otherPct > OTHER_CPU_WARN_PCT) warnings.push(`other processes used ${otherPct.toFixed(0)}% of a core during the run`)
        if (result.maxSendLagMs > 5) warnings.push(`the sender's timer fired up to ${result.maxSendLagMs.toFixed(1)} ms late (a scheduling stall in the generator, counted in the latency; a bare Node timer loop on this VM shows similar stalls)`)
        return {
          metrics: { p50Ms: result.p50Ms, p99Ms: result.p99Ms, maxMs: result.maxMs },
          // Over the whole run, warm-up included.
          cpu: { brokerPct, loadPct, otherPct },
          details: {
            p90Ms: round(result.p90Ms), p999Ms: round(result.p999Ms), meanMs: round(result.meanMs),
            samples: result.samples, sent: result.sent, received: result.received,
            maxInflight: result.maxInflight, maxSendLagMs: round(result.maxSendLagMs),
            ...nodeCpu(b0.nodeCpuUs, b1.nodeCpuUs, result.received),
            ...(counters0 && counters1 ? counterDeltas(counters0, counters1) : {}),
            ...(shape ? { topic: place.topics[0] as string, ...Object.fromEntries(Object.entries(place.roles).map(([k, v]) => [`role.${k}`, v])) } : {}),
          },
          warnings,
        }
      } finally {
        await pool.stop()
      }
    },
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}
