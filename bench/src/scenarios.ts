import { idleScenario } from './scenario-idle.js'
import { latencyScenario } from './scenario-latency.js'
import { RING_SCENARIOS } from './scenarios-ring.js'
import { throughputScenario } from './scenario-throughput.js'
import type { MetricSpec, Scenario } from './scenario.js'

const PAYLOAD_BYTES = 64
const QOS1_WINDOW = 64

const msgsPerS = (min: number): MetricSpec => ({
  key: 'msgsPerS', label: 'msgs/s', unit: 'msg/s', better: 'higher', digits: 0, target: { kind: 'min-ratio', value: min },
})

/** Every scenario, in the order they run. Names are what `--only` takes. */
export const SCENARIOS: readonly Scenario[] = [
  throughputScenario({ name: 'qos0-1to1', title: 'QoS 0 throughput 1→1', qos: 0, publishers: 1, subscribersPerTopic: 1, window: 0, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS(0.9) }),
  throughputScenario({ name: 'qos0-4to4', title: 'QoS 0 throughput 4→4', qos: 0, publishers: 4, subscribersPerTopic: 1, window: 0, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS(0.9) }),
  throughputScenario({ name: 'qos1-1to1', title: 'QoS 1 throughput 1→1', qos: 1, publishers: 1, subscribersPerTopic: 1, window: QOS1_WINDOW, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS(0.8) }),
  throughputScenario({ name: 'qos1-4to4', title: 'QoS 1 throughput 4→4', qos: 1, publishers: 4, subscribersPerTopic: 1, window: QOS1_WINDOW, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS(0.8) }),
  throughputScenario({
    name: 'fanout-1to100', title: 'QoS 0 fan-out 1→100', qos: 0, publishers: 1, subscribersPerTopic: 100, window: 0, payloadBytes: PAYLOAD_BYTES,
    metric: { key: 'deliveriesPerS', label: 'deliveries/s', unit: 'msg/s', better: 'higher', digits: 0 },
  }),
  latencyScenario(),
  idleScenario(),
  ...RING_SCENARIOS,
]

/** `--only` tokens: a full name, or a prefix up to a dash (`qos0` selects qos0-1to1 and qos0-4to4). */
export function selectScenarios(only: readonly string[] | undefined): Scenario[] {
  if (!only) return [...SCENARIOS]
  const unknown = only.filter((t) => !SCENARIOS.some((s) => matches(s.name, t)))
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return SCENARIOS.filter((s) => only.some((t) => matches(s.name, t)))
}

function matches(name: string, token: string): boolean {
  return name === token || name.startsWith(token + '-')
}
