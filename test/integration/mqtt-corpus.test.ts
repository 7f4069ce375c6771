import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqttPacket, { type Packet } from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { counter } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, type Received } from '../helpers/mqtt.js'
import {
  CORPUS, CORPUS_DEVICE, CORPUS_DEVICE_PASSWORD, CORPUS_MAX_TOPIC_LEVELS, FULL_CONNECT_FIELDS, FULL_PUBLISH_FIELDS,
  connect as connectBytes, cutsAtFieldBoundaries, type Counted, type CorpusCase,
} from '../helpers/mqtt-corpus.js'
import { openRaw, type RawMqtt, type RawTransport } from '../helpers/raw-mqtt.js'
import { waitFor } from '../helpers/wait.js'

// The malformed-MQTT corpus (test/helpers/mqtt-corpus.ts) against one hub, every case on TCP and
// on WebSocket: the hub answers as MQTT 3.1.1 asks (closes, or the CONNACK code, or SUBACK 0x80),
// the matching counter on /metrics goes up by exactly one, a bystander subscribed to `#` stays
// connected and receives nothing the corpus sent, and afterwards a QoS 1 publisher/subscriber pair
// exchanges messages with nothing lost. Then the same for a CONNECT and a PUBLISH cut after each
// field, the socket then closed or left idle: never taken as complete, never answered.

const CONNECT_TIMEOUT_MS = 600
/** Keep-alive of the sessions that leave a PUBLISH cut short: closed after 1.5 × this. */
const KEEPALIVE_S = 1
const TRANSPORTS: readonly RawTransport[] = ['tcp', 'ws']
const listenerOf = (t: RawTransport): string => (t === 'tcp' ? 'mqtt' : 'ws')

const dir = tempDir()
let hub: Hub
let admin: string
let bystander: MqttClient
let bystanderGot: Received[]
let bystanderCloses = 0
const conns = new Set<RawMqtt>()
let sessions = 0

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true, connectTimeoutMs: CONNECT_TIMEOUT_MS, maxTopicLevels: CORPUS_MAX_TOPIC_LEVELS })
  await hub.users.add(CORPUS_DEVICE, CORPUS_DEVICE_PASSWORD, 'device')
  admin = `127.0.0.1:${hub.ports.admin}`
  bystander = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, { clientId: 'corpus-bystander' })
  bystanderGot = collect(bystander)
  bystander.on('close', () => { bystanderCloses++ })
  await bystander.subscribeAsync('#', { qos: 1 })
})

afterAll(async () => {
  for (const c of conns) c.destroy()
  await close(bystander)
  await hub?.stop()
  dir.remove()
})

const labelKey = (c: Counted): string => (c.metric === 'ringhub_acl_denials_total' ? 'action' : c.metric === 'ringhub_connections_total' ? 'listener' : 'reason')
const read = (c: Counted, transport: RawTransport): Promise<number> =>
  counter(admin, c.metric, `${labelKey(c)}="${c.label === 'listener' ? listenerOf(transport) : c.label}"`)

const open = (transport: RawTransport): Promise<RawMqtt> => openRaw(transport, { mqttPort: hub.ports.mqtt, adminPort: hub.ports.admin }, conns)

/** A raw connection that sent a valid CONNECT (anonymous, or as the corpus device) and got CONNACK 0. */
async function openSession(transport: RawTransport, as: 'session' | 'device', keepalive = 0): Promise<RawMqtt> {
  const conn = await open(transport)
  const n = ++sessions
  conn.write(as === 'device'
    ? connectBytes({ clientId: `${CORPUS_DEVICE}:${n}`, username: CORPUS_DEVICE, password: CORPUS_DEVICE_PASSWORD, keepalive })
    : connectBytes({ clientId: `corpus-${n}`, keepalive }))
  await waitFor(() => conn.packets.some((p) => p.cmd === 'connack') || conn.isClosed(), `CONNACK (${transport})`, 3_000, 2)
  expect(conn.packets[0], `session CONNACK on ${transport}`).toMatchObject({ cmd: 'connack', returnCode: 0 })
  return conn
}

const answersAfter = (conn: RawMqtt, from: number): Packet[] => conn.packets.slice(from)

/** Subscribes, publishes QoS 1 and gets its own message back on a raw connection that has CONNACK 0. */
async function roundTrip(conn: RawMqtt, topic: string): Promise<void> {
  const from = conn.packets.length
  conn.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }))
  await waitFor(() => conn.packets.slice(from).find((p) => p.cmd === 'suback'), `SUBACK ${topic}`, 3_000, 2)
  conn.write(mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('hello'), qos: 1, messageId: 2, retain: false, dup: false }))
  await waitFor(() => conn.packets.slice(from).some((p) => p.cmd === 'puback') && conn.packets.slice(from).some((p) => p.cmd === 'publish'), `PUBACK and delivery on ${topic}`, 3_000, 2)
}

async function runCase(c: CorpusCase, transport: RawTransport): Promise<void> {
  const tag = `${c.name} ${c.spec} over ${transport}`
  const before = await read(c.counted, transport)
  const conn = c.start === 'fresh' ? await open(transport) : await openSession(transport, c.start)
  const from = conn.packets.length
  conn.write(c.bytes)
  if (c.then === 'end') conn.end()
  const o = c.outcome
  if ('close' in o) {
    await waitFor(() => conn.isClosed(), `${tag}: the hub closes the connection`, 3_000, 2)
    expect(answersAfter(conn, from).map((p) => [p.cmd, p.cmd === 'connack' ? p.returnCode : undefined]), `${tag}: answer before closing`)
      .toEqual(o.connack === undefined ? [] : [['connack', o.connack]])
  } else if ('suback' in o) {
    const suback = await waitFor(() => answersAfter(conn, from).find((p) => p.cmd === 'suback'), `${tag}: SUBACK`, 3_000, 2)
    expect(suback.cmd === 'suback' && suback.granted, tag).toEqual(o.suback)
    expect(conn.isClosed(), `${tag}: still connected`).toBe(false)
  } else if ('serves' in o) {
    await waitFor(() => conn.packets.some((p) => p.cmd === 'connack') || conn.isClosed(), `${tag}: CONNACK`, 3_000, 2)
    expect(conn.packets[0], tag).toMatchObject({ cmd: 'connack', returnCode: 0 })
    await roundTrip(conn, `serves/${c.name}`)
    conn.write(mqttPacket.generate({ cmd: 'disconnect' }))
    await waitFor(() => conn.isClosed(), `${tag}: closed after DISCONNECT`, 3_000, 2)
  }
  expect(conn.parseErrors, `${tag}: the hub sent only well-formed MQTT`).toEqual([])
  await waitFor(async () => (await read(c.counted, transport)) === before + 1, `${tag}: ${c.counted.metric}{${c.counted.label}} + 1`, 3_000, 5)
  conn.destroy()
}

describe('the malformed-MQTT corpus, on TCP and WebSocket', () => {
  it('names each case once', () => {
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length)
  })

  for (const transport of TRANSPORTS) {
    it.each(CORPUS.map((c) => [c.name, c] as const))(`${transport}: %s`, async (_name, c) => {
      await runCase(c, transport)
    })
  }
})

describe('truncation at every field boundary, on TCP and WebSocket', () => {
  const connectCuts = cutsAtFieldBoundaries(0x10, FULL_CONNECT_FIELDS)
  const publishCuts = cutsAtFieldBoundaries(0x32, FULL_PUBLISH_FIELDS)

  it('the full packets are valid (the cuts are cuts of good packets)', async () => {
    const conn = await open('tcp')
    conn.write(connectBytes({ clientId: 'trunc', keepalive: 60, will: { topic: 'w/t', message: 'gone', qos: 1 }, username: 'u', password: 'p' }))
    await waitFor(() => conn.packets.length > 0 || conn.isClosed(), 'CONNACK to the uncut CONNECT', 3_000, 2)
    // Anonymous access is on, but u is no user: CONNACK 4 shows the CONNECT was parsed whole.
    expect(conn.packets[0]).toMatchObject({ cmd: 'connack', returnCode: 4 })
    conn.destroy()
  })

  it(`a CONNECT cut after each of its ${connectCuts.length} fields and then closed is never answered (counted as truncated)`, async () => {
    for (const transport of TRANSPORTS) {
      for (const cut of connectCuts) {
        const tag = `CONNECT cut after ${cut.after}, then closed, over ${transport}`
        const before = await counter(admin, 'ringhub_protocol_errors_total', 'reason="truncated"')
        const conn = await open(transport)
        conn.write(cut.bytes)
        conn.end()
        await waitFor(() => conn.isClosed(), `${tag}: closed`, 3_000, 2)
        expect(conn.packets, tag).toEqual([])
        await waitFor(async () => (await counter(admin, 'ringhub_protocol_errors_total', 'reason="truncated"')) === before + 1, `${tag}: counted`, 3_000, 5)
      }
    }
  })

  it(`a CONNECT cut after each of its ${connectCuts.length} fields and then left idle is closed after connectTimeoutMs, unanswered and counted`, async () => {
    const before = await counter(admin, 'ringhub_protocol_errors_total', 'reason="connection-error"')
    const cases = TRANSPORTS.flatMap((transport) => connectCuts.map((cut) => ({ transport, cut })))
    const started = performance.now()
    await Promise.all(cases.map(async ({ transport, cut }) => {
      const tag = `CONNECT cut after ${cut.after}, then idle, over ${transport}`
      const conn = await open(transport)
      conn.write(cut.bytes)
      await waitFor(() => conn.isClosed(), `${tag}: closed by the connect timeout`, CONNECT_TIMEOUT_MS + 3_000, 5)
      expect(conn.packets, tag).toEqual([])
    }))
    expect(performance.now() - started).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50)
    await waitFor(async () => (await counter(admin, 'ringhub_protocol_errors_total', 'reason="connection-error"')) === before + cases.length, 'every idle cut counted as connection-error', 3_000, 5)
  })

  it(`a QoS 1 PUBLISH cut after each of its ${publishCuts.length} fields is never acknowledged nor delivered: closed → truncated, idle → keep-alive timeout`, async () => {
    const truncatedBefore = await counter(admin, 'ringhub_protocol_errors_total', 'reason="truncated"')
    const keepaliveBefore = await counter(admin, 'ringhub_disconnects_total', 'reason="keepalive-timeout"')
    const cases = TRANSPORTS.flatMap((transport) => publishCuts.flatMap((cut) => (['end', 'idle'] as const).map((then) => ({ transport, cut, then }))))
    await Promise.all(cases.map(async ({ transport, cut, then }) => {
      const tag = `PUBLISH cut after ${cut.after}, then ${then}, over ${transport}`
      const conn = await openSession(transport, 'session', KEEPALIVE_S)
      conn.write(cut.bytes)
      if (then === 'end') conn.end()
      await waitFor(() => conn.isClosed(), `${tag}: closed`, KEEPALIVE_S * 1_500 + 3_000, 5)
      expect(conn.packets.map((p) => p.cmd), tag).toEqual(['connack'])
    }))
    const ends = cases.filter((c) => c.then === 'end').length
    await waitFor(async () => (await counter(admin, 'ringhub_protocol_errors_total', 'reason="truncated"')) === truncatedBefore + ends, 'closed cuts counted as truncated', 3_000, 5)
    await waitFor(async () => (await counter(admin, 'ringhub_disconnects_total', 'reason="keepalive-timeout"')) === keepaliveBefore + cases.length - ends, 'idle cuts counted as keep-alive timeouts', 3_000, 5)
    expect(bystanderGot.filter((m) => m.topic.startsWith('trunc/'))).toEqual([])
  })
})

describe('after the corpus', () => {
  it('the hub still serves: a QoS 1 publisher on TCP and a subscriber on WebSocket exchange 500 messages, none lost', async () => {
    const N = 500
    const sub = await connect(`ws://127.0.0.1:${hub.ports.admin}/mqtt`, { clientId: 'corpus-after-sub', clean: true })
    const pub = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, { clientId: 'corpus-after-pub' })
    try {
      const got = collect(sub)
      await sub.subscribeAsync('after/corpus/#', { qos: 1 })
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync(`after/corpus/${i % 7}`, `m${i}`, { qos: 1 })))
      await waitFor(() => got.length >= N, `${N} messages`, 10_000)
      expect(new Set(got.map((m) => m.payload)).size).toBe(N)
      expect(got.every((m) => m.qos === 1)).toBe(true)
    } finally {
      await close(sub, pub)
    }
    // The bystander never dropped, and saw only what well-behaved clients published.
    expect(bystanderCloses).toBe(0)
    expect(bystander.connected).toBe(true)
    const topics = new Set(bystanderGot.map((m) => m.topic.split('/')[0]))
    expect([...topics].sort()).toEqual(['after', 'serves'])
    const health = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(3_000) })
    expect(health.status).toBe(200)
    hub.db.flush()
    expect(hub.db.read(() => hub.db.sqlite.pragma('integrity_check', { simple: true }))).toBe('ok')
  })
})
