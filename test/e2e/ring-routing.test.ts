import { createConnection } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { TopicLog } from '../../hub/src/store/topic-log.js'
import { startRing } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Three hubs in one process, each on its own sockets and SQLite file, joined into one ring:
// MQTT behaviour must hold when the publishing client, the subscribing client and the topic's
// owner are three different hubs.
const ids = ['a', 'b', 'c']
const ring: { hub?: (id: string) => Hub, stop?: () => Promise<void> } = {}
const clients: MqttClient[] = []
const hub = (id: string): Hub => (ring.hub as (id: string) => Hub)(id)
const url = (id: string): string => `mqtt://127.0.0.1:${hub(id).ports.mqtt}`

async function client(id: string, clientId: string): Promise<MqttClient> {
  const c = await connect(url(id), { clientId })
  clients.push(c)
  return c
}

/** A device key (`devices/dN`) whose owner is `owner`. */
function keyOwnedBy(owner: string): string {
  for (let i = 0; ; i++) if (hub('a').cluster.ownerOf(`devices/d${i}/x`).owner === owner) return `devices/d${i}`
}

beforeAll(async () => {
  Object.assign(ring, await startRing(ids))
})

afterAll(async () => {
  await close(...clients)
  await ring.stop?.()
})

describe('three hubs as one broker', () => {
  it('delivers a QoS 1 message from a client on A to a subscriber on C through the owner B, acked only once B logged it', async () => {
    const key = keyOwnedBy('b')
    const sub = await client('c', 'sub-1')
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    const pub = await client('a', 'pub-1')
    await pub.publishAsync(`${key}/temp`, '21.5', { qos: 1 })
    // The PUBACK came after the owner's commit: the message is in B's log already.
    const logged = new TopicLog(hub('b').db).since(key, { epoch: 0, seq: 0 })
    expect(logged.map((e) => [e.topic, e.payload.toString()])).toEqual([[`${key}/temp`, '21.5']])
    await waitFor(() => got.length === 1, 'delivery on C', 5_000)
    expect(got[0]).toMatchObject({ topic: `${key}/temp`, payload: '21.5', qos: 1, retain: false })
    // Counted: A forwarded, B sequenced and sent one delivery, C received it; bytes on the links.
    const scrape = async (id: string): Promise<string> => hub(id).metrics.render()
    const value = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? NaN)
    expect(value(await scrape('a'), 'ringhub_router_events_total{event="forwarded"}')).toBeGreaterThanOrEqual(1)
    expect(value(await scrape('b'), 'ringhub_router_events_total{event="deliveriesSent"}')).toBeGreaterThanOrEqual(1)
    expect(value(await scrape('c'), 'ringhub_router_events_total{event="deliveriesReceived"}')).toBeGreaterThanOrEqual(1)
    expect(value(await scrape('b'), 'ringhub_interhub_bytes_total{direction="out"}')).toBeGreaterThan(0)
  })

  it('keeps the order of 300 QoS 1 messages of a key owned by C, published on B, subscribed on A', async () => {
    const key = keyOwnedBy('c')
    const sub = await client('a', 'sub-2')
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    const p1 = await client('b', 'pub-2a')
    const sends = Array.from({ length: 300 }, (_, i) => p1.publishAsync(`${key}/n`, String(i), { qos: 1 }))
    await Promise.all(sends)
    await waitFor(() => got.length === 300, '300 deliveries', 10_000)
    expect(got.map((m) => Number(m.payload))).toEqual(Array.from({ length: 300 }, (_, i) => i))
  })

  it('gives a new subscription the retained messages of its key from the owner, and of many keys from every hub', async () => {
    const kb = keyOwnedBy('b')
    const kc = keyOwnedBy('c')
    const pub = await client('a', 'pub-3')
    await pub.publishAsync(`${kb}/state`, 'on', { qos: 1, retain: true })
    await pub.publishAsync(`${kc}/state`, 'off', { qos: 1, retain: true })
    const keyed = await client('c', 'sub-3a')
    const gotKeyed = collect(keyed)
    await keyed.subscribeAsync(`${kb}/#`, { qos: 1 })
    await waitFor(() => gotKeyed.length === 1, 'retained for the keyed filter', 5_000)
    expect(gotKeyed[0]).toMatchObject({ topic: `${kb}/state`, payload: 'on', retain: true })
    const global = await client('a', 'sub-3b')
    const gotGlobal = collect(global)
    await global.subscribeAsync('devices/+/state', { qos: 1 })
    await waitFor(() => gotGlobal.length >= 2, 'retained for the global filter', 5_000)
    expect(gotGlobal.filter((m) => m.topic === `${kb}/state` || m.topic === `${kc}/state`).map((m) => m.payload).sort()).toEqual(['off', 'on'])
  })

  it('sends a global subscriber on A the messages of keys owned anywhere, published on C', async () => {
    const sub = await client('a', 'sub-4')
    const got = collect(sub)
    await sub.subscribeAsync('devices/+/alarm', { qos: 1 })
    const pub = await client('c', 'pub-4')
    const keys = ['a', 'b', 'c'].map(keyOwnedBy)
    for (const key of keys) await pub.publishAsync(`${key}/alarm`, key, { qos: 1 })
    await waitFor(() => got.length === 3, 'three alarms', 5_000)
    expect(got.map((m) => m.payload).sort()).toEqual([...keys].sort())
  })

  it('delivers the will of a device on A, for a key owned by B, to a subscriber on C', async () => {
    const key = keyOwnedBy('b')
    const sub = await client('c', 'sub-5')
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/status`, { qos: 1 })
    const device = await connect(url('a'), { clientId: 'dev-5', will: { topic: `${key}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
    device.stream.destroy() // the connection is lost without DISCONNECT
    await waitFor(() => got.length === 1, 'the will on C', 5_000)
    expect(got[0]).toMatchObject({ topic: `${key}/status`, payload: 'offline' })
    device.end(true)
  })
  it('resumes from an offset: the admin API of any hub returns the messages of a key after (epoch, seq), read from the owner log', async () => {
    const key = keyOwnedBy('b')
    const pub = await client('a', 'pub-6')
    for (let i = 0; i < 5; i++) await pub.publishAsync(`${key}/log`, `m${i}`, { qos: 1 })
    const admin = `http://127.0.0.1:${hub('c').ports.admin}`
    interface Page { key: string, owner: string, messages: Array<{ epoch: number, seq: number, topic: string, text?: string, payload: string }>, next: { epoch: number, seq: number } }
    const all = await (await fetch(`${admin}/api/keys/messages?key=${encodeURIComponent(key)}`)).json() as Page
    expect(all.owner).toBe('b')
    const mine = all.messages.filter((m) => m.topic === `${key}/log`)
    expect(mine.map((m) => m.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    const seqs = all.messages.map((m) => m.seq)
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
    const third = mine[2] as { epoch: number, seq: number }
    const rest = await (await fetch(`${admin}/api/keys/messages?key=${encodeURIComponent(key)}&since=${third.epoch}:${third.seq}&limit=1`)).json() as Page
    expect(rest.messages.map((m) => m.text)).toEqual(['m3'])
    expect(rest.next).toEqual({ epoch: third.epoch, seq: third.seq + 1 })
    const bad = await fetch(`${admin}/api/keys/messages?key=${encodeURIComponent(`${key}/log`)}`)
    expect(bad.status).toBe(400)
    expect((await bad.json() as { error: string }).error).toMatch(/not a key/)
  })
  it('closes an inter-hub connection that sends garbage or skips the hello, counts it, and keeps routing', async () => {
    const address = hub('a').cluster.view().members.find((m) => m.id === 'b')?.addresses.interHub as string
    const port = Number(address.split(':').at(-1))
    const rejected = async (): Promise<number> => {
      const text = await hub('b').metrics.render()
      return [...text.matchAll(/^ringhub_interhub_rejected_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
    }
    const before = await rejected()
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0, 0, 0, 12, 1, 3, 0, 0, 0, 1, 0xc1, 0xc1, 0xc1, 0xc1]), Buffer.from([0xff, 0xff, 0xff, 0xff, 1])]) {
      const socket = createConnection(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write(junk)
      await new Promise<void>((resolve) => socket.on('close', () => resolve()))
    }
    await waitFor(async () => (await rejected()) >= before + 3, 'three rejected connections', 5_000)
    const key = keyOwnedBy('b')
    const sub = await client('c', 'sub-7')
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/after`, { qos: 1 })
    await (await client('a', 'pub-7')).publishAsync(`${key}/after`, 'still routing', { qos: 1 })
    await waitFor(() => got.length === 1, 'routing after garbage', 5_000)
  })
  it('sends a command to a device on another hub through the admin API of any hub, and reports timeouts and offline devices', async () => {
    const key = keyOwnedBy('b')
    const device = key.split('/')[1] as string
    // The device (or its agent) on A: answers every command on its topic with the agent's envelope.
    const dev = await client('a', `${device}:agent`)
    dev.on('message', (topic, payload) => {
      const { id, args } = JSON.parse(payload.toString()) as { id: string, args: unknown }
      void dev.publishAsync(`${topic}/res`, JSON.stringify({ device, id, ok: true, value: { echoed: args } }), { qos: 1 })
    })
    await dev.subscribeAsync(`devices/${device}/cmd/+`, { qos: 1 })
    const post = (id: string, body: unknown): Promise<Response> => fetch(`http://127.0.0.1:${hub('c').ports.admin}/api/devices/${id}/commands`, { method: 'POST', body: JSON.stringify(body) })
    const ok = await post(device, { name: 'relay', args: { on: true }, timeoutMs: 2_000 })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ device, name: 'relay', ok: true, value: { echoed: { on: true } } })

    const startedAt = performance.now()
    const silent = await post('silent-device', { name: 'ping', timeoutMs: 200 })
    expect(silent.status).toBe(504)
    expect(await silent.json()).toMatchObject({ ok: false, error: { code: 'timeout' } })
    expect(performance.now() - startedAt).toBeLessThan(3_000)

    await (await client('b', 'status-setter')).publishAsync('devices/gone/status', 'offline', { qos: 1, retain: true })
    const offline = await post('gone', { name: 'ping' })
    expect(offline.status).toBe(409)
    expect(await offline.json()).toMatchObject({ error: { code: 'device-offline' } })

    expect((await post('a+b', { name: 'x' })).status).toBe(400)
    expect((await post(device, { name: 'x', timeoutMs: 10 ** 9 })).status).toBe(400)
    expect((await fetch(`http://127.0.0.1:${hub('c').ports.admin}/api/devices/${device}/commands`, { method: 'POST', body: 'not json' })).status).toBe(400)
  })
})
