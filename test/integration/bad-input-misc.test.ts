import { connect as netConnect, type Socket } from 'node:net'
import { once } from 'node:events'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import mqttPacket, { type Packet } from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, type Received } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Bad input on a live hub, one raw TCP socket per case (mqtt.js refuses to send most of it).
// Every case checks three things: the hub does what MQTT 3.1.1 asks, the refusal is counted in
// hub.metrics, and a bystander client on the same hub keeps working.

const CONNECT_TIMEOUT_MS = 300
const MAX_TOPIC_LEVELS = 8

const dir = tempDir()
let hub: Hub
let url: string
let bystander: MqttClient
let bystanderGot: Received[]
let bystanderRounds = 0
let bystanderCloses = 0
const sockets = new Set<Socket>()

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true, connectTimeoutMs: CONNECT_TIMEOUT_MS, maxTopicLevels: MAX_TOPIC_LEVELS })
  url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
  bystander = await connect(url, { clientId: 'bystander' })
  bystanderGot = collect(bystander)
  bystander.on('close', () => { bystanderCloses++ })
  await bystander.subscribeAsync('bystander/#', { qos: 1 })
})

afterEach(async () => {
  for (const s of sockets) s.destroy()
  sockets.clear()
  // Whatever the case did to its own connection, the bystander still round-trips a QoS 1 message.
  const payload = `round-${++bystanderRounds}`
  await bystander.publishAsync('bystander/echo', payload, { qos: 1 })
  await waitFor(() => bystanderGot.some((m) => m.payload === payload), `bystander round trip ${payload}`, 3_000)
  expect(bystander.connected).toBe(true)
  expect(bystanderCloses).toBe(0)
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await close(bystander)
  await hub.stop()
  dir.remove()
})

interface RawConn {
  socket: Socket
  /** Packets the hub sent back, parsed as MQTT 3.1.1. */
  packets: Packet[]
  /** Every byte the hub sent back. */
  received: () => Buffer
  isClosed: () => boolean
  /** performance.now() when the socket closed. */
  closedAt: Promise<number>
}

async function openRaw(): Promise<RawConn> {
  const socket = netConnect({ host: '127.0.0.1', port: hub.ports.mqtt })
  sockets.add(socket)
  const packets: Packet[] = []
  const chunks: Buffer[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p) => packets.push(p))
  parser.on('error', () => { /* the raw bytes stay in `chunks` for the assertion */ })
  socket.on('data', (d: Buffer) => { chunks.push(d); parser.parse(d) })
  socket.on('error', () => { /* ECONNRESET once the hub destroys the connection is expected */ })
  let closed = false
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => { closed = true; resolve(performance.now()) }))
  await once(socket, 'connect')
  return { socket, packets, received: () => Buffer.concat(chunks), isClosed: () => closed, closedAt }
}

const CONNECT = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 30 })

/** A raw connection that has sent CONNECT and received CONNACK 0. */
async function openConnected(): Promise<RawConn> {
  const raw = await openRaw()
  raw.socket.write(CONNECT)
  await waitFor(() => raw.packets.find((p) => p.cmd === 'connack'), 'CONNACK', 3_000)
  expect(raw.packets[0]).toMatchObject({ cmd: 'connack', returnCode: 0 })
  return raw
}

async function protocolErrors(reason: string): Promise<number> {
  const { values } = await hub.metrics.protocolErrors.get()
  return values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0)
}

async function closedByHub(raw: RawConn, what: string, deadlineMs = 3_000): Promise<void> {
  await waitFor(() => raw.isClosed(), `hub closes the connection (${what})`, deadlineMs)
}

describe('bad input from a device', () => {
  it(`closes a connection that never sends CONNECT after connectTimeoutMs (${CONNECT_TIMEOUT_MS} ms)`, async () => {
    const before = await protocolErrors('connection-error')
    const raw = await openRaw()
    const openedAt = performance.now()
    await closedByHub(raw, 'silent socket', CONNECT_TIMEOUT_MS + 3_000)
    const lived = (await raw.closedAt) - openedAt
    // The server accepts a little after the client sees 'connect'; allow that much slack below.
    expect(lived).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50)
    expect(lived).toBeLessThan(CONNECT_TIMEOUT_MS + 2_000)
    expect(raw.received().length).toBe(0)
    await waitFor(async () => (await protocolErrors('connection-error')) === before + 1, 'connection-error counted')
  })

  it('closes the connection on a second CONNECT [MQTT-3.1.0-2]', async () => {
    const before = await protocolErrors('second-connect')
    const raw = await openConnected()
    raw.socket.write(CONNECT)
    await closedByHub(raw, 'second CONNECT')
    expect(raw.packets.map((p) => p.cmd)).toEqual(['connack'])
    expect(await protocolErrors('second-connect')).toBe(before + 1)
  })

  it.each([
    ['0x00', 0x00],
    ['0xF0', 0xf0],
  ])('closes the connection on reserved packet type %s after CONNECT [MQTT-2.2.1]', async (_name, byte) => {
    const before = await protocolErrors('reserved-packet-type')
    const raw = await openConnected()
    raw.socket.write(Buffer.from([byte, 0x00]))
    await closedByHub(raw, `reserved type ${byte}`)
    expect(await protocolErrors('reserved-packet-type')).toBe(before + 1)
  })

  it(`takes a topic of exactly maxTopicLevels (${MAX_TOPIC_LEVELS}) and closes the connection on a deeper one`, async () => {
    const watcher = await connect(url)
    try {
      const seen = collect(watcher)
      await watcher.subscribeAsync('deep/#', { qos: 1 })
      const atLimit = ['deep', ...Array.from({ length: MAX_TOPIC_LEVELS - 1 }, (_, i) => `l${i}`)].join('/')
      const tooDeep = `${atLimit}/one-more`
      const before = await protocolErrors('client-error')
      const raw = await openConnected()

      raw.socket.write(mqttPacket.generate({ cmd: 'publish', topic: atLimit, payload: Buffer.from('ok'), qos: 1, messageId: 1, retain: false, dup: false }))
      await waitFor(() => raw.packets.find((p) => p.cmd === 'puback'), 'PUBACK for a topic at the level limit')
      await waitFor(() => seen.some((m) => m.topic === atLimit), 'delivery of the topic at the limit')

      raw.socket.write(mqttPacket.generate({ cmd: 'publish', topic: tooDeep, payload: Buffer.from('no'), qos: 1, messageId: 2, retain: false, dup: false }))
      await closedByHub(raw, 'topic deeper than maxTopicLevels')
      // No PUBACK for the refused message, and it reached nobody.
      expect(raw.packets.filter((p) => p.cmd === 'puback').map((p) => p.messageId)).toEqual([1])
      expect(seen.map((m) => m.topic)).toEqual([atLimit])
      await waitFor(async () => (await protocolErrors('client-error')) === before + 1, 'client-error counted')
    } finally {
      await close(watcher)
    }
  })

  it('closes the connection on SUBSCRIBE to an invalid filter a/#/b [MQTT-4.7.1-2, MQTT-4.8.0-1]', async () => {
    const before = await protocolErrors('client-error')
    const raw = await openConnected()
    // mqtt-packet does not validate filters; mqtt.js would refuse to send this one.
    raw.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/#/b', qos: 0 }] }))
    // MQTT 3.1.1 allows either answer to a malformed filter: SUBACK 0x80 or closing the connection.
    // aedes closes it; a SUBACK with a granted QoS (0..2) would be the one wrong answer.
    await waitFor(() => raw.isClosed() || raw.packets.some((p) => p.cmd === 'suback'), 'SUBACK or close')
    const suback = raw.packets.find((p) => p.cmd === 'suback')
    if (suback) {
      expect(suback.granted).toEqual([0x80])
    } else {
      expect(raw.isClosed()).toBe(true)
      await waitFor(async () => (await protocolErrors('client-error')) === before + 1, 'client-error counted')
    }
  })

  it('answers a CONNECT with protocol level 5 with CONNACK 0x01 and closes [MQTT-3.1.2-2]', async () => {
    const before = await protocolErrors('connection-error')
    const raw = await openRaw()
    raw.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'v5', clean: true, keepalive: 30 }))
    await closedByHub(raw, 'protocol level 5')
    // A 3.1.1 CONNACK (no properties), return code 0x01 "unacceptable protocol version".
    expect([...raw.received()]).toEqual([0x20, 0x02, 0x00, 0x01])
    await waitFor(async () => (await protocolErrors('connection-error')) === before + 1, 'connection-error counted')
    expect(hub.broker.connectedClients).toBe(1) // only the bystander: the v5 client was never registered
  })

  // mqtt-packet's parser rejects any level but 3, 4 and 5 as a parse error, so aedes alone would
  // close without a CONNACK; the frame guard answers 0x01 itself.
  it.each([
    ['2', 2],
    ['6', 6],
    ['0x7f', 0x7f],
  ])('answers a CONNECT with unknown protocol level %s with CONNACK 0x01 and closes [MQTT-3.1.2-2]', async (_name, level) => {
    const before = await protocolErrors('unacceptable-protocol-level')
    const raw = await openRaw()
    const v4 = Buffer.from(CONNECT)
    // Fixed header (2) + protocol name length (2) + "MQTT" (4): the next byte is the level.
    expect(v4[8]).toBe(4)
    v4[8] = level
    raw.socket.write(v4)
    await closedByHub(raw, `protocol level ${level}`)
    expect([...raw.received()]).toEqual([0x20, 0x02, 0x00, 0x01])
    await waitFor(async () => (await protocolErrors('unacceptable-protocol-level')) === before + 1, 'rejection counted')
    expect(hub.broker.connectedClients).toBe(1)
  })

  it('accepts a CONNECT with protocol level 3 (MQTT 3.1, "MQIsdp") with CONNACK 0', async () => {
    const raw = await openRaw()
    raw.socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'v31', clean: true, keepalive: 30 }))
    await waitFor(() => raw.packets.find((p) => p.cmd === 'connack'), 'CONNACK to MQTT 3.1')
    expect(raw.packets[0]).toMatchObject({ cmd: 'connack', returnCode: 0 })
    // …and serves it: a QoS 1 publish is acknowledged and reaches the bystander.
    raw.socket.write(mqttPacket.generate({ cmd: 'publish', topic: 'bystander/v31', payload: Buffer.from('from 3.1'), qos: 1, messageId: 3, retain: false, dup: false }))
    await waitFor(() => raw.packets.find((p) => p.cmd === 'puback'), 'PUBACK to MQTT 3.1 client')
    await waitFor(() => bystanderGot.some((m) => m.payload === 'from 3.1'), 'MQTT 3.1 publish delivered')
    expect(raw.isClosed()).toBe(false)
  })
})
