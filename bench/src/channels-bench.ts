/**
 * `npm run bench:channels` (issue 8): JSON channel clients against the same load over
 * MQTT-over-WebSocket, side by side, on a fresh ring of three hub processes per system.
 *
 * Clients: `--clients` (default 5,000) spread round-robin over the three hubs, client i joined to
 * its device's key (`devices/d<i>/#`), plus `--global` (100) joined to the global filter
 * `devices/+/alarm`. Load: `--rate` (2,000) msg/s QoS 1 from 4 MQTT/TCP publishers (one per hub
 * and one more on a), device i's `devices/d<i>/telemetry` in turn, every 100th message an alarm
 * (`devices/d<i>/alarm`) that each global client gets too. Payload: JSON `{ t, n }`, t the
 * send time (this process's clock), so latency = arrival - t.
 *
 * Printed and written to bench/results/channels-<time>.json: deliveries/s, p50/p99/max latency,
 * deliveries missing, and the hubs' RSS per connection (after a GC, with the clients connected
 * and joined, minus before they connected). A measurement: exit code 0 even when one system is
 * slower; 1 when a run failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import WebSocket from 'ws'
import { ChildRegistry } from './child-spawn.js'
import { codeInfo, machineInfo } from './report-json.js'
import { table } from './report-table.js'
import { RingHandle } from './ring-handle.js'

type System = 'channels' | 'mqtt-ws'
const SYSTEMS: readonly System[] = ['channels', 'mqtt-ws']
const ALARM_EVERY = 100
const CONNECT_BATCH = 200

interface Options { clients: number, global: number, rate: number, durationMs: number }

interface Result {
  system: System
  connections: number
  connectMs: number
  sent: number
  expected: number
  received: number
  deliveriesPerS: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  rssPerConnectionKiB: number
  hubRssMiB: number
}

/** One receiving client of either kind: closes itself. */
interface Receiver { close(): void }

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' }, clients: { type: 'string' }, global: { type: 'string' },
      rate: { type: 'string' }, 'duration-ms': { type: 'string' },
    },
  })
  const quick = values.quick === true
  const int = (v: string | undefined, d: number): number => {
    if (v === undefined) return d
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${v}`)
    return n
  }
  return {
    clients: int(values.clients, quick ? 1_000 : 5_000),
    global: int(values.global, 100),
    rate: int(values.rate, 2_000),
    durationMs: int(values['duration-ms'], quick ? 5_000 : 10_000),
  }
}

async function inBatches(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < n; start += CONNECT_BATCH) {
    await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, n - start) }, (_, j) => fn(start + j)))
  }
}

/** A channel client joined to `filter`; each message's latency goes to `onLatency`. */
async function channelReceiver(admin: number, filter: string, onLatency: (ms: number, n: number) => void): Promise<Receiver> {
  const ws = new WebSocket(`ws://127.0.0.1:${admin}/channels`)
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { op: string, ref?: string, payload?: { t?: number, n?: number }, retained?: boolean }
      if (f.op === 'message' && !f.retained && typeof f.payload?.t === 'number') onLatency(performance.now() - f.payload.t, f.payload.n ?? -1)
      else if (f.ref === 'j') { if (f.op === 'ok') resolve(); else reject(new Error(`join refused: ${String(data)}`)) }
    })
    ws.send(JSON.stringify({ ref: 'j', op: 'join', topic: filter }))
  })
  return { close: () => ws.terminate() }
}

/** An MQTT-over-WebSocket client subscribed to `filter` (QoS 0, like a QoS 0 join). */
async function mqttWsReceiver(admin: number, filter: string, i: number, onLatency: (ms: number, n: number) => void): Promise<Receiver> {
  const client = await mqtt.connectAsync(`ws://127.0.0.1:${admin}/mqtt`, { clientId: `bench-ws-${i}`, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 0 })
  client.on('message', (_topic, payload) => {
    const { t, n } = JSON.parse(payload.toString()) as { t?: number, n?: number }
    if (typeof t === 'number') onLatency(performance.now() - t, n ?? -1)
  })
  await client.subscribeAsync(filter, { qos: 0 })
  return { close: () => { client.end(true) } }
}

async function measure(system: System, opts: Options, log: (line: string) => void): Promise<Result> {
  const registry = new ChildRegistry()
  const connections = opts.clients + opts.global
  const ring = await RingHandle.start(registry, { connections: connections + 64, output: log, replicationFactor: 2, profile: 'lan' })
  const receivers: Receiver[] = []
  const publishers: MqttClient[] = []
  try {
    const hubs = ring.endpoints()
    const before = await ring.memory()
    const latencies: number[] = []
    // Deliveries of the messages numbered [from, to) are measured, whenever they arrive.
    const window = { from: Infinity, to: Infinity }
    const onLatency = (ms: number, n: number): void => { if (n >= window.from && n < window.to) latencies.push(ms) }
    const connectStart = performance.now()
    await inBatches(connections, async (i) => {
      const hub = hubs[i % hubs.length] as { admin: number }
      const filter = i < opts.clients ? `devices/d${i}/#` : 'devices/+/alarm'
      receivers.push(system === 'channels' ? await channelReceiver(hub.admin, filter, onLatency) : await mqttWsReceiver(hub.admin, filter, i, onLatency))
    })
    const connectMs = performance.now() - connectStart
    const after = await ring.memory()
    log(`${system}: ${connections} clients connected and joined in ${Math.round(connectMs)} ms`)

    for (const [i, hub] of [...hubs, hubs[0]].entries()) {
      publishers.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${(hub as { mqtt: number }).mqtt}`, { clientId: `bench-pub-${i}`, reconnectPeriod: 0 }))
    }
    // Warm-up of a second, then the measured interval at the fixed rate.
    let sent = 0
    let alarms = 0
    const started = performance.now()
    const warmUpMs = 1_000
    const endAt = started + warmUpMs + opts.durationMs
    let counting = false
    const acks: Array<Promise<unknown>> = []
    while (performance.now() < endAt) {
      const now = performance.now()
      if (!counting && now - started >= warmUpMs) { counting = true; window.from = sent }
      const due = Math.floor((now - started) * opts.rate / 1_000)
      while (sent < due) {
        const device = sent % opts.clients
        const alarm = sent % ALARM_EVERY === ALARM_EVERY - 1
        if (counting && alarm) alarms++
        const pub = publishers[sent % publishers.length] as MqttClient
        acks.push(pub.publishAsync(`devices/d${device}/${alarm ? 'alarm' : 'telemetry'}`, JSON.stringify({ t: performance.now(), n: sent }), { qos: 1 }))
        sent++
      }
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    window.to = sent
    const measured = sent - window.from
    await Promise.allSettled(acks)
    // Late deliveries of the measured messages still count (their latency says how late).
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const expected = measured + alarms * opts.global
    latencies.sort((a, b) => a - b)
    const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
    return {
      system, connections, connectMs: Math.round(connectMs), sent: measured, expected, received: latencies.length,
      deliveriesPerS: Math.round(latencies.length / (opts.durationMs / 1_000)),
      p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(latencies.at(-1) ?? NaN),
      rssPerConnectionKiB: round((after.rssBytes - before.rssBytes) / connections / 1024),
      hubRssMiB: Math.round(after.rssBytes / 1048576),
    }
  } finally {
    for (const r of receivers) r.close()
    for (const p of publishers) p.end(true)
    const problem = await ring.stop()
    if (problem) log(`${system}: ${problem}`)
  }
}

function round(v: number): number { return Math.round(v * 100) / 100 }

function resultTable(results: readonly Result[]): string {
  const rows: Array<[string, (r: Result) => string]> = [
    ['connections (joined)', (r) => String(r.connections)],
    ['connect + join, ms', (r) => String(r.connectMs)],
    ['messages in (measured)', (r) => String(r.sent)],
    ['deliveries expected', (r) => String(r.expected)],
    ['deliveries received', (r) => String(r.received)],
    ['deliveries/s', (r) => String(r.deliveriesPerS)],
    ['p50 latency, ms', (r) => String(r.p50Ms)],
    ['p99 latency, ms', (r) => String(r.p99Ms)],
    ['max latency, ms', (r) => String(r.maxMs)],
    ['hub RSS per connection, KiB', (r) => String(r.rssPerConnectionKiB)],
    ['hubs\' RSS in all, MiB', (r) => String(r.hubRssMiB)],
  ]
  const head = ['metric', ...results.map((r) => r.system === 'channels' ? 'channels (JSON)' : 'MQTT over WS')]
  return table(head, rows.map(([label, f]) => [label, ...results.map(f)]), 1)
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2))
  const log = (line: string): void => { console.log(line) }
  const machine = machineInfo()
  log(`bench:channels: ${opts.clients} keyed + ${opts.global} global clients over 3 hubs, ${opts.rate} msg/s QoS 1 in for ${opts.durationMs} ms; ${machine.cpus} CPUs, load ${machine.loadAvgAtStart.join(' ')}`)
  const results: Result[] = []
  for (const system of SYSTEMS) results.push(await measure(system, opts, log))
  log('')
  log(resultTable(results))
  const [ch, ws] = results as [Result, Result]
  log('')
  log(`channels / MQTT-over-WS: deliveries/s ${round(ch.deliveriesPerS / ws.deliveriesPerS)}×, p99 ${round(ch.p99Ms / ws.p99Ms)}×, RSS per connection ${round(ch.rssPerConnectionKiB / ws.rssPerConnectionKiB)}×`)
  const dir = fileURLToPath(new URL('../results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `channels-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify({ schema: 1, kind: 'channels', options: opts, machine: { ...machine, loadAvgAtEnd: machineInfo().loadAvgAtStart }, code: codeInfo(), results }, null, 2) + '\n')
  log(`Results: ${file}`)
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err))
  process.exit(1)
})
