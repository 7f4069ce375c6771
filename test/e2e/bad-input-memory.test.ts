import { readFileSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { once } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqttPacket from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// A real `ringhub hub` process under a memory attack: sockets that claim a 268 MB packet and then
// stream garbage. aedes alone (mqtt-packet) buffers a packet body until it is complete, so 14 such
// sockets would make it hold 14 × 30 MB. The frame guard must close each socket at the header and
// keep the hub's RSS flat. (A side-by-side run against plain aedes lives in bench/, not here.)
// Needs the compiled CLI: `npx tsc -b` first.

const SOCKETS = 14
const GARBAGE_BYTES = 30 * 1024 * 1024
const CHUNK_BYTES = 64 * 1024
const MAX_RSS_GROWTH_BYTES = 25 * 1024 * 1024
const ATTACK_DEADLINE_MS = 20_000

/** Fixed header of a PUBLISH claiming Remaining Length 268,435,455 (the MQTT maximum). */
const HUGE_PUBLISH_HEADER = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])
const CONNECT = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30 })

const dir = tempDir()
let hub: SpawnedHub
let baselineRssBytes = 0
const sockets = new Set<Socket>()
const clients: MqttClient[] = []

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}

function hubPid(): number {
  const pid = hub.child.pid
  if (pid === undefined) throw new Error('hub process has no pid')
  return pid
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

async function metricsText(): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${hub.ports.admin}/metrics`, { signal: AbortSignal.timeout(5_000) })
  expect(res.status).toBe(200)
  return res.text()
}

/** One sample of a labelled Prometheus counter (0 when the series does not exist yet). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

async function protocolErrors(reason: string): Promise<number> {
  return sample(await metricsText(), 'ringhub_protocol_errors_total', `reason="${reason}"`)
}

interface AttackResult {
  /** Bytes each socket handed to the kernel before the hub closed it. */
  written: number[]
  peakRssBytes: number
  ms: number
}

/**
 * Opens `SOCKETS` sockets in parallel; each writes `prefix` and then up to GARBAGE_BYTES of garbage
 * in chunks, waiting for 'drain' when the kernel buffer is full and stopping as soon as the socket
 * errors or closes. Samples the hub's RSS every 10 ms while the attack runs.
 */
async function attack(prefix: Buffer): Promise<AttackResult> {
  const garbage = Buffer.alloc(CHUNK_BYTES, 0xa5)
  const started = performance.now()
  let peakRssBytes = rssBytes(hubPid())
  const sampler = setInterval(() => {
    try { peakRssBytes = Math.max(peakRssBytes, rssBytes(hubPid())) } catch { /* exited: caught below */ }
  }, 10)
  const closed: boolean[] = Array.from({ length: SOCKETS }, () => false)

  const one = async (i: number): Promise<number> => {
    const socket = netConnect({ host: '127.0.0.1', port: hub.ports.mqtt })
    sockets.add(socket)
    socket.on('error', () => { /* EPIPE / ECONNRESET once the hub hangs up: expected */ })
    const gone = new Promise<void>((resolve) => socket.once('close', () => { closed[i] = true; resolve() }))
    await Promise.race([once(socket, 'connect'), gone])
    let written = 0
    if (!closed[i] && socket.write(prefix)) {
      while (!closed[i] && !socket.destroyed && written < GARBAGE_BYTES) {
        written += CHUNK_BYTES
        if (!socket.write(garbage)) {
          await Promise.race([once(socket, 'drain').catch(() => undefined), gone])
        }
      }
    }
    // Done feeding (or refused): the hub, not us, must close the socket.
    await Promise.race([gone, new Promise((r) => setTimeout(r, ATTACK_DEADLINE_MS))])
    return written
  }

  try {
    const written = await Promise.all(Array.from({ length: SOCKETS }, (_, i) => one(i)))
    expect(closed.filter(Boolean).length, `sockets closed by the hub within ${ATTACK_DEADLINE_MS} ms`).toBe(SOCKETS)
    // Let the hub settle a moment and take a last sample, in case it holds memory after the close.
    await new Promise((r) => setTimeout(r, 200))
    peakRssBytes = Math.max(peakRssBytes, rssBytes(hubPid()))
    return { written, peakRssBytes, ms: performance.now() - started }
  } finally {
    clearInterval(sampler)
    for (const s of sockets) s.destroy()
    sockets.clear()
  }
}

beforeAll(async () => {
  hub = await spawnHub(['--id', 'mem1', '--data', dir.path, '--allow-anonymous'])
  // Warm up (JIT, SQLite pages, one full MQTT round trip) before taking the baseline.
  const warm = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
  clients.push(warm)
  const got = collect(warm)
  await warm.subscribeAsync('warm/#', { qos: 1 })
  await warm.publishAsync('warm/up', 'x', { qos: 1 })
  await waitFor(() => got.length === 1, 'warm-up round trip')
  await metricsText()
  await new Promise((r) => setTimeout(r, 300))
  baselineRssBytes = rssBytes(hubPid())
}, 30_000)

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await close(...clients)
  if (hub) await stopHub(hub, 'SIGKILL')
  dir.remove()
})

describe('a hub process under a memory attack', () => {
  it.each([
    ['a non-CONNECT first packet claiming 268 MB', () => HUGE_PUBLISH_HEADER, 'first-packet-not-connect'],
    ['a valid CONNECT, then a PUBLISH claiming 268 MB', () => Buffer.concat([CONNECT, HUGE_PUBLISH_HEADER]), 'packet-too-large'],
  ] as const)(`closes ${SOCKETS} sockets sending %s + 30 MB each, with RSS growth < 25 MB`, async (_name, prefix, reason) => {
    const before = await protocolErrors(reason)
    const result = await attack(prefix())
    const growth = result.peakRssBytes - baselineRssBytes
    const acceptedMb = result.written.reduce((s, n) => s + n, 0) / 1024 / 1024
    console.log(`[bad-input-memory] ${reason}: baseline ${mb(baselineRssBytes)} MB, peak ${mb(result.peakRssBytes)} MB, growth ${mb(growth)} MB; `
      + `clients wrote ${acceptedMb.toFixed(1)} MB in total before the hub closed them; ${result.ms.toFixed(0)} ms`)
    expect(hub.child.exitCode, 'hub process still running').toBeNull()
    expect(growth, `RSS growth ${mb(growth)} MB (baseline ${mb(baselineRssBytes)} MB)`).toBeLessThan(MAX_RSS_GROWTH_BYTES)
    // Every socket was refused for exactly this reason, and the refusals are visible in /metrics.
    await waitFor(async () => (await protocolErrors(reason)) === before + SOCKETS, `${SOCKETS} × ${reason} in /metrics`)
  }, 60_000)

  it('still serves MQTT, /healthz and /metrics afterwards', async () => {
    const client = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    clients.push(client)
    const got = collect(client)
    await client.subscribeAsync('after/attack', { qos: 1 })
    await client.publishAsync('after/attack', 'still here', { qos: 1 })
    await waitFor(() => got.length === 1, 'own QoS 1 message back')
    expect(got[0]).toMatchObject({ topic: 'after/attack', payload: 'still here', qos: 1 })

    const health = await fetch(`http://127.0.0.1:${hub.ports.admin}/healthz`, { signal: AbortSignal.timeout(5_000) })
    expect(health.status).toBe(200)
    const text = await metricsText()
    // Only our own clients (warm-up + this one) remain: every attack socket was released.
    expect(sample(text, 'ringhub_connections', 'listener="mqtt"')).toBe(2)
    expect(sample(text, 'ringhub_protocol_errors_total', 'reason="first-packet-not-connect"')).toBe(SOCKETS)
    expect(sample(text, 'ringhub_protocol_errors_total', 'reason="packet-too-large"')).toBe(SOCKETS)
    expect(hub.child.exitCode).toBeNull()
  })
})
