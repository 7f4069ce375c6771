import { latencyScenario } from './scenario-latency.js'
import { throughputScenario } from './scenario-throughput.js'
import type { MetricSpec, RowSpec, Scenario } from './scenario.js'
import type { SystemKind } from './system-handle.js'

// The ring of issue 4: three hub processes joined into one ring, replication factor 2, against
// what aedes users build today — the aedes README's cluster, two aedes brokers sharing one Redis
// as message bus (mqemitter-redis) and persistence (aedes-persistence-redis) — and against the
// same two brokers sharing only the bus (cheaper, not one broker to its clients: sessions and
// retained messages stay on the broker that got them); for the local path, against the single
// hub of the same run and issue 2's hub. docs/routing.md says why the cluster is the reference.

const PAYLOAD_BYTES = 64
const QOS1_WINDOW = 64
const VS_REDIS: readonly SystemKind[] = ['ring', 'aedes-cluster', 'aedes-redis']
const LOCAL: readonly SystemKind[] = ['ring', 'ringhub', 'aedes']

const msgsPerS: MetricSpec = { key: 'msgsPerS', label: 'msgs/s', unit: 'msg/s', better: 'higher', digits: 0 }
const CROSS_NOTE = 'Ring: publishers on hub a, subscribers on hub c, every topic\'s key owned by hub b (found through the hubs\' /api/ring/owner), ' +
  'so each message goes a → b (forward) → replica → b → c; aedes cluster and aedes+redis bus: publishers on broker 1, subscribers on broker 2.'

/** Ring QoS 1 throughput against aedes+redis: target 1.5×, goal 2× (issue 4). */
function crossQos1(publishers: number): Scenario {
  return throughputScenario({
    name: `ring-qos1-${publishers}to${publishers}`, title: `Ring QoS 1 throughput a → b → c, ${publishers}→${publishers}`,
    qos: 1, publishers, subscribersPerTopic: 1, window: QOS1_WINDOW, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS,
    layout: 'cross', systems: VS_REDIS, note: CROSS_NOTE,
    rows: [
      { metric: 'msgsPerS', subject: 'ring', reference: 'aedes-cluster', target: { kind: 'min-ratio', value: 1.5, goal: 2 } },
      { metric: 'msgsPerS', subject: 'ring', reference: 'aedes-redis' },
      { metric: 'brokerUsPerMsg', subject: 'ring', reference: 'aedes-cluster' },
      { metric: 'brokerUsPerMsg', subject: 'ring', reference: 'aedes-redis' },
    ],
  })
}

/**
 * The local path: publisher, subscriber and key owner on one hub of the ring (still replicating
 * to its successor), against the single hub of this run and issue 2's hub (target 0.9× each).
 */
function local(name: string, qos: 0 | 1, publishers: number): Scenario {
  const issue2Scenario = `qos${qos}-${publishers}to${publishers}`
  const rows: RowSpec[] = [
    { metric: 'msgsPerS', subject: 'ring', reference: 'ringhub', target: { kind: 'min-ratio', value: 0.9 } },
    { metric: 'msgsPerS', subject: 'ring', reference: 'issue-2', target: { kind: 'min-ratio', value: 0.9 } },
    { metric: 'msgsPerS', subject: 'ring', reference: 'aedes' },
    { metric: 'brokerUsPerMsg', subject: 'ring', reference: 'ringhub' },
  ]
  return throughputScenario({
    name, title: `Ring local path, QoS ${qos} ${publishers}→${publishers}`,
    qos, publishers, subscribersPerTopic: 1, window: qos === 1 ? QOS1_WINDOW : 0, payloadBytes: PAYLOAD_BYTES, metric: msgsPerS,
    layout: 'local', systems: LOCAL, rows, issue2Scenario,
    note: 'Ring: publishers and subscribers on hub b, which owns every topic\'s key (and copies each message to its successor); ' +
      `single hub and aedes as in ${issue2Scenario}; issue-2 hub (est.) = this run's aedes × ringhub/aedes of ${issue2Scenario} in reference-issue-2.json.`,
  })
}

/** Every ring scenario, in the order they run; `--only ring` selects them all. */
export const RING_SCENARIOS: readonly Scenario[] = [
  crossQos1(1),
  crossQos1(4),
  latencyScenario({
    name: 'ring-latency', title: 'Ring latency a → b → c, QoS 1 at fixed rate', layout: 'cross', systems: VS_REDIS, note: CROSS_NOTE,
    rows: [
      { metric: 'p50Ms', subject: 'ring', reference: 'aedes-cluster' },
      { metric: 'p99Ms', subject: 'ring', reference: 'aedes-cluster', target: { kind: 'max', value: 10 } },
      { metric: 'p99Ms', subject: 'ring', reference: 'aedes-redis' },
      { metric: 'maxMs', subject: 'ring', reference: 'aedes-cluster' },
    ],
  }),
  throughputScenario({
    name: 'ring-fanout', title: 'Ring fan-out to 3 hubs, QoS 1',
    qos: 1, publishers: 1, subscribersPerTopic: 9, window: QOS1_WINDOW, payloadBytes: PAYLOAD_BYTES,
    metric: { key: 'deliveriesPerS', label: 'deliveries/s', unit: 'msg/s', better: 'higher', digits: 0 },
    layout: 'spread', systems: VS_REDIS,
    note: 'Ring: the publisher on hub a, the key owned by hub b, 3 subscribers on each of a, b and c. The hubs\' /metrics ' +
      '(router deliveriesSent, sequenced; inter-hub frames) are read before and after the run: deliver frames/msg/hub = ' +
      'deliver frames the owner sent ÷ (messages it numbered × hubs other than itself with subscribers); inter-hub frames/msg = ' +
      'all frames all hubs sent (forward, reply, replica copy and its answer, deliveries) ÷ messages. aedes: subscribers spread over both brokers.',
    rows: [
      { metric: 'deliveriesPerS', subject: 'ring', reference: 'aedes-cluster' },
      { metric: 'deliveriesPerS', subject: 'ring', reference: 'aedes-redis' },
      { metric: 'brokerUsPerMsg', subject: 'ring', reference: 'aedes-cluster' },
      { metric: 'deliverFramesPerHub', subject: 'ring', target: { kind: 'max', value: 1 } },
      { metric: 'linkFramesPerMsg', subject: 'ring' },
    ],
  }),
  local('ring-local-qos0-1to1', 0, 1),
  local('ring-local-qos1-1to1', 1, 1),
  local('ring-local-qos1-4to4', 1, 4),
]
