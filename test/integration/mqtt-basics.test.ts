import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// One anonymous hub for the MQTT behaviours that do not involve restarts or auth.
const dir = tempDir()
let hub: Hub
let url: string
const clients: MqttClient[] = []

async function client(opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
  const c = await connect(url, opts)
  clients.push(c)
  return c
}

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true })
  url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
})

afterAll(async () => {
  await close(...clients)
  await hub.stop()
  dir.remove()
})

describe('MQTT 3.1.1 on one hub', () => {
  it.each([
    [0, 0, 0], [0, 1, 0], [0, 2, 0],
    [1, 0, 0], [1, 1, 1], [1, 2, 1],
    [2, 0, 0], [2, 1, 1], [2, 2, 2],
  ] as const)('publish QoS %i to a QoS %i subscription arrives at QoS %i', async (pubQos, subQos, expected) => {
    const topic = `qos/p${pubQos}/s${subQos}`
    const sub = await client()
    const got = collect(sub)
    const granted = await sub.subscribeAsync(topic, { qos: subQos })
    expect(granted[0]?.qos).toBe(subQos)
    const pub = await client()
    // publishAsync resolves on PUBACK (QoS 1) / PUBCOMP (QoS 2): the device-to-hub direction.
    await pub.publishAsync(topic, `m${pubQos}${subQos}`, { qos: pubQos })
    await waitFor(() => got.length === 1, 'delivery')
    expect(got[0]).toEqual({ topic, payload: `m${pubQos}${subQos}`, qos: expected, retain: false })
  })

  it('sets, replaces and clears a retained message', async () => {
    const pub = await client()
    await pub.publishAsync('retained/a', 'v1', { qos: 1, retain: true })
    await pub.publishAsync('retained/a', 'v2', { qos: 1, retain: true })
    const s1 = await client()
    const got1 = collect(s1)
    await s1.subscribeAsync('retained/#', { qos: 1 })
    await waitFor(() => got1.length === 1, 'retained delivery')
    expect(got1[0]).toMatchObject({ topic: 'retained/a', payload: 'v2', retain: true })

    await pub.publishAsync('retained/a', '', { qos: 1, retain: true }) // empty payload clears [MQTT-3.3.1-10]
    const s2 = await client()
    const got2 = collect(s2)
    await s2.subscribeAsync('retained/#', { qos: 1 })
    // A marker published after the subscription proves the retained message would have come first.
    await pub.publishAsync('retained/marker', 'm', { qos: 1 })
    await waitFor(() => got2.some((m) => m.topic === 'retained/marker'), 'marker')
    expect(got2.map((m) => m.topic)).toEqual(['retained/marker'])
  })

  it('delivers to live subscribers a retained message followed at once by another publish', async () => {
    // aedes numbers a message on arrival but emits a retained one only after storing it; its
    // clients then drop whatever is numbered below what they already got (aedes lib/client.js
    // dedupe), so the retained one vanished for live subscribers. The hub numbers messages when
    // they are delivered, in delivery order.
    const sub = await client()
    const got = collect(sub)
    await sub.subscribeAsync('burst/#', { qos: 1 })
    const pub = await client()
    await Promise.all([
      pub.publishAsync('burst/state', 'r', { qos: 1, retain: true }),
      pub.publishAsync('burst/plain', 'p', { qos: 1 }),
      pub.publishAsync('burst/state', 'r0', { qos: 0, retain: true }),
      pub.publishAsync('burst/plain', 'p0', { qos: 0 }),
    ])
    await waitFor(() => got.length === 4, 'all four', 5_000)
    expect(got.map((m) => m.payload).sort()).toEqual(['p', 'p0', 'r', 'r0'])
  })

  it('sends the will on an abnormal disconnect and not on a clean one', async () => {
    const watcher = await client()
    const got = collect(watcher)
    await watcher.subscribeAsync('wills/#', { qos: 1 })

    const clean = await client({ will: { topic: 'wills/clean', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await clean.endAsync() // sends DISCONNECT
    const abrupt = await client({ will: { topic: 'wills/abrupt', payload: Buffer.from('lost'), qos: 1, retain: false } })
    abrupt.stream.destroy() // no DISCONNECT: the hub must publish the will

    await waitFor(() => got.length >= 1, 'will')
    const marker = await client()
    await marker.publishAsync('wills/marker', 'm', { qos: 1 })
    await waitFor(() => got.some((m) => m.topic === 'wills/marker'), 'marker')
    expect(got.map((m) => `${m.topic}=${m.payload}`)).toEqual(['wills/abrupt=lost', 'wills/marker=m'])
  })

  it('matches + and # filters', async () => {
    const sub = await client()
    const got = collect(sub)
    await sub.subscribeAsync({ 'wild/+/temp': { qos: 1 }, 'wild/d2/#': { qos: 1 } })
    const pub = await client()
    for (const t of ['wild/d1/temp', 'wild/d1/hum', 'wild/d2', 'wild/d2/a/b', 'wild/d3/temp/x', 'other/d1/temp']) {
      await pub.publishAsync(t, t, { qos: 1 })
    }
    await pub.publishAsync('wild/d2/end', 'end', { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === 'end'), 'end marker')
    expect(got.map((m) => m.topic).sort()).toEqual(['wild/d1/temp', 'wild/d2', 'wild/d2/a/b', 'wild/d2/end'])
  })

  it.each([
    ['two wildcards', { 'ov1/#': 0, 'ov1/+': 1 }, 'ov1/x', 2, 1],
    ['exact filter above a wildcard', { 'ov2/a': 1, 'ov2/#': 0 }, 'ov2/a', 1, 1],
    ['wildcard above an exact QoS 0 filter', { 'ov5/a': 0, 'ov5/#': 1 }, 'ov5/a', 2, 1],
    ['granted QoS caps a QoS 2 publish', { 'ov3/+': 1 }, 'ov3/x', 2, 1],
    ['three overlapping', { 'ov4/#': 0, 'ov4/+/c': 2, 'ov4/b/+': 1 }, 'ov4/b/c', 2, 2],
  ] as const)('delivers once at the highest granted QoS of overlapping subscriptions: %s', async (_name, filters, topic, pubQos, expected) => {
    const sub = await client()
    const got = collect(sub)
    const map = Object.fromEntries(Object.entries(filters).map(([f, qos]) => [f, { qos: qos as 0 | 1 | 2 }]))
    await sub.subscribeAsync(map)
    const pub = await client()
    await pub.publishAsync(topic, 'x', { qos: pubQos })
    // Every case has a wildcard on the second level, so `<first level>/zz-end` reaches the client.
    await pub.publishAsync(`${topic.split('/')[0]}/zz-end`, 'end', { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === 'end'), 'marker')
    const hits = got.filter((m) => m.topic === topic)
    expect(hits).toHaveLength(1)
    expect(hits[0]?.qos).toBe(expected)
  })

  it('publishes Mosquitto-style $SYS/broker topics, which # does not match', async () => {
    const sysDir = tempDir()
    const sysHub = await startHub(sysDir.path, { allowAnonymous: true, sysIntervalMs: 100 })
    try {
      const sysUrl = `mqtt://127.0.0.1:${sysHub.ports.mqtt}`
      const sub = await connect(sysUrl)
      clients.push(sub)
      const got = collect(sub)
      await sub.subscribeAsync({ '$SYS/broker/#': { qos: 0 } })
      const all = await connect(sysUrl)
      clients.push(all)
      const gotAll = collect(all)
      await all.subscribeAsync('#', { qos: 0 })
      await all.publishAsync('plain/topic', 'p', { qos: 1 })
      const latest = (t: string): string | undefined => got.filter((m) => m.topic === t).at(-1)?.payload
      await waitFor(() => Number(latest('$SYS/broker/clients/connected')) === 2 && Number(latest('$SYS/broker/messages/received')) >= 1, '$SYS counters')
      expect(latest('$SYS/broker/version')).toMatch(/^ringhub \S+ \(aedes 1\./)
      expect(latest('$SYS/broker/uptime')).toMatch(/^\d+ seconds$/)
      expect(Number(latest('$SYS/broker/bytes/received'))).toBeGreaterThan(0)
      expect(gotAll.map((m) => m.topic)).toEqual(['plain/topic']) // [MQTT-4.7.2-1]
    } finally {
      await sysHub.stop()
      sysDir.remove()
    }
  })

  it('refuses publishes into $SYS from clients', async () => {
    const c = await client()
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()))
    c.publish('$SYS/broker/fake', 'x', { qos: 1 })
    await closed
    const total = (await hub.metrics.aclDenials.get()).values.reduce((s, v) => s + v.value, 0)
    expect(total).toBeGreaterThanOrEqual(1)
  })
})
