import { connect as netConnect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqttPacket from 'mqtt-packet'
import WebSocket from 'ws'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { selfSignedCert } from '../helpers/tls.js'
import { waitFor } from '../helpers/wait.js'

const dir = tempDir()
let hub: Hub
let cert: Buffer
const clients: MqttClient[] = []
const MAX = 64 * 1024

beforeAll(async () => {
  const tls = selfSignedCert(dir.path)
  cert = tls.cert
  hub = await startHub(dir.path, { allowAnonymous: true, mqtts: 0, tlsCert: tls.certPath, tlsKey: tls.keyPath, maxPacketBytes: MAX })
})

afterAll(async () => {
  await close(...clients)
  await hub.stop()
  dir.remove()
})

async function track(c: Promise<MqttClient>): Promise<MqttClient> {
  const client = await c
  clients.push(client)
  return client
}

describe('listeners', () => {
  it('reports every bound port in GET /api/hub', async () => {
    const res = await fetch(`http://127.0.0.1:${hub.ports.admin}/api/hub`)
    expect(res.status).toBe(200)
    const info = await res.json() as { id: string, ports: Hub['ports'], wsPath: string }
    expect(info.id).toBe('h1')
    expect(info.ports).toEqual(hub.ports)
    expect(info.ports.mqtt).toBeGreaterThan(0)
    expect(info.ports.mqtts).toBeGreaterThan(0)
    expect(info.wsPath).toBe('/mqtt')
  })

  it('carries messages between TCP, TLS and WebSocket clients', async () => {
    const tcp = await track(connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`))
    const tls = await track(connect(`mqtts://127.0.0.1:${hub.ports.mqtts}`, { ca: cert, servername: 'localhost' }))
    const ws = await track(connect(`ws://127.0.0.1:${hub.ports.admin}/mqtt`))
    const got = { tcp: collect(tcp), tls: collect(tls), ws: collect(ws) }
    for (const c of [tcp, tls, ws]) await c.subscribeAsync('mix/#', { qos: 1 })
    await tcp.publishAsync('mix/from-tcp', 'a', { qos: 1 })
    await tls.publishAsync('mix/from-tls', 'b', { qos: 1 })
    await ws.publishAsync('mix/from-ws', 'c', { qos: 1 })
    for (const list of Object.values(got)) {
      await waitFor(() => list.length === 3, 'three deliveries')
      expect(list.map((m) => m.payload).sort()).toEqual(['a', 'b', 'c'])
    }
  })

  it('refuses a TLS client that does not trust the hub certificate', async () => {
    await expect(connect(`mqtts://127.0.0.1:${hub.ports.mqtts}`, { rejectUnauthorized: true })).rejects.toThrow()
  })

  it('closes an oversized PUBLISH on TCP and leaves other clients unaffected', async () => {
    const bystander = await track(connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`))
    const got = collect(bystander)
    await bystander.subscribeAsync('big/#', { qos: 1 })
    const sock = netConnect(hub.ports.mqtt, '127.0.0.1')
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()))
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()))
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'big1', clean: true, keepalive: 0 }))
    sock.write(mqttPacket.generate({ cmd: 'publish', topic: 'big/x', payload: Buffer.alloc(MAX + 1), qos: 0, retain: false, dup: false }))
    sock.on('error', () => {})
    await closed
    const pub = await track(connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`))
    await pub.publishAsync('big/ok', 'fine', { qos: 1 })
    await waitFor(() => got.length === 1, 'bystander delivery')
    expect(got.map((m) => m.topic)).toEqual(['big/ok'])
  })

  it('closes an oversized message on WebSocket and leaves other clients unaffected', async () => {
    const bystander = await track(connect(`ws://127.0.0.1:${hub.ports.admin}/mqtt`))
    const got = collect(bystander)
    await bystander.subscribeAsync('wsbig/#', { qos: 1 })
    const ws = new WebSocket(`ws://127.0.0.1:${hub.ports.admin}/mqtt`, 'mqtt')
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    ws.on('error', () => {})
    ws.send(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'wsbig', clean: true, keepalive: 0 }))
    ws.send(mqttPacket.generate({ cmd: 'publish', topic: 'wsbig/x', payload: Buffer.alloc(MAX + 1), qos: 0, retain: false, dup: false }))
    expect(await closed).toBe(1009) // message too big (ws maxPayload)
    await bystander.publishAsync('wsbig/ok', 'fine', { qos: 1 })
    await waitFor(() => got.length === 1, 'bystander delivery')
    expect(got[0]?.topic).toBe('wsbig/ok')
  })

  it('answers a WebSocket upgrade on another path with 404 and closes it', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${hub.ports.admin}/not-mqtt`, 'mqtt')
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.once('error', () => resolve(-1))
    })
    expect(status).toBe(404)
    const metrics = await (await fetch(`http://127.0.0.1:${hub.ports.admin}/metrics`)).text()
    expect(metrics).toMatch(/ringhub_protocol_errors_total\{reason="websocket-path"\} 1/)
  })

  it('stops promptly while a WebSocket client is still connected', async () => {
    const other = tempDir()
    try {
      const wsHub = await startHub(other.path, { allowAnonymous: true })
      const ws = await connect(`ws://127.0.0.1:${wsHub.ports.admin}/mqtt`)
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
      const started = performance.now()
      await wsHub.stop()
      expect(performance.now() - started).toBeLessThan(3_000)
      await closed
      ws.end(true)
    } finally {
      other.remove()
    }
  })

  it('serves /healthz and Prometheus /metrics', async () => {
    const health = await fetch(`http://127.0.0.1:${hub.ports.admin}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const metrics = await (await fetch(`http://127.0.0.1:${hub.ports.admin}/metrics`)).text()
    expect(metrics).toMatch(/ringhub_connections_total\{listener="mqtt"\} [1-9]/)
    expect(metrics).toMatch(/ringhub_connections_total\{listener="ws"\} [1-9]/)
    expect(metrics).toMatch(/ringhub_connections_total\{listener="mqtts"\} [1-9]/)
    expect(metrics).toMatch(/ringhub_protocol_errors_total\{reason="packet-too-large"\} [1-9]/)
    expect(metrics).toMatch(/ringhub_messages_in_total\{qos="1"\} [1-9]/)
    expect(metrics).toMatch(/ringhub_bytes_in_total [1-9]/)
    expect(metrics).toMatch(/ringhub_bytes_out_total [1-9]/)
    expect(metrics).toContain('ringhub_store_commit_seconds_bucket')
  })
})
