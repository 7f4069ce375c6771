/**
 * Child process: one load generator. The runner forks several, hands each a share of the
 * clients, and drives them all in step: setup → start → snapshot (after warm-up) → snapshot
 * (after the measured interval) → stop. Latency and idle runs are single requests.
 */
import { sendToParent, serveRequests } from './ipc-child.js'
import type { WorkerReady, WorkerReply, WorkerRequest, WorkerSnapshot } from './ipc-protocol.js'
import { measureLatency } from './load-latency.js'
import { openIdle } from './load-idle.js'
import { Publisher } from './load-publisher.js'
import { Subscriber } from './load-subscriber.js'
import type { MqttClient } from './mqtt-client.js'

const HOST = '127.0.0.1'
const HANDSHAKE_TIMEOUT_MS = 10_000

const publishers: Publisher[] = []
const subscribers: Subscriber[] = []
const idle: MqttClient[] = []

function clients(): MqttClient[] {
  return [...publishers, ...subscribers].flatMap((role) => role.client ?? []).concat(idle)
}

function snapshot(): WorkerSnapshot {
  const cpu = process.cpuUsage()
  return {
    type: 'snapshot',
    atMs: performance.now(),
    received: subscribers.reduce((n, s) => n + s.received, 0),
    sent: publishers.reduce((n, p) => n + p.sent, 0),
    acked: publishers.reduce((n, p) => n + p.acked, 0),
    lost: clients().filter((c) => c.lostReason !== undefined).length,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
  }
}

async function stop(): Promise<void> {
  for (const publisher of publishers) publisher.stop()
  await Promise.all(clients().map((c) => c.close()))
}

serveRequests<WorkerRequest, WorkerReply>(async (req) => {
  switch (req.type) {
    case 'setup': {
      // Subscribers first, so nothing a publisher sends later can miss them.
      for (const spec of req.clients) if (spec.role === 'subscriber') subscribers.push(new Subscriber(spec))
      await Promise.all(subscribers.map((s) => s.connect(HOST, s.port ?? req.port, HANDSHAKE_TIMEOUT_MS)))
      for (const spec of req.clients) if (spec.role === 'publisher') publishers.push(new Publisher(spec))
      await Promise.all(publishers.map((p) => p.connect(HOST, p.port ?? req.port, HANDSHAKE_TIMEOUT_MS)))
      return { type: 'ok' }
    }
    case 'start':
      for (const publisher of publishers) publisher.start()
      return { type: 'ok' }
    case 'halt':
      for (const publisher of publishers) publisher.abort()
      return { type: 'ok' }
    case 'snapshot':
      return snapshot()
    case 'latency':
      return measureLatency(HOST, req.port, req.spec, HANDSHAKE_TIMEOUT_MS)
    case 'idle':
      return openIdle(HOST, req.port, req.spec, idle, HANDSHAKE_TIMEOUT_MS)
    case 'stop':
      await stop()
      setImmediate(() => process.disconnect())
      setTimeout(() => process.exit(0), 1000).unref()
      return { type: 'ok' }
  }
}, () => process.exit(0))

sendToParent<WorkerReady>({ id: 0, body: { type: 'ready', pid: process.pid } })
