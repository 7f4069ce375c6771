import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import WebSocket from 'ws'
import type { Hub } from '../../hub/src/hub.js'
import { ChannelClient } from '../../hub/src/client/channels.js'
import type { ChannelMessage, ChannelServerFrame } from '../../hub/src/contract/channels.js'
import { TopicLog } from '../../hub/src/store/topic-log.js'
import { RawChannel } from '../helpers/channels.js'
import { startRing } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// The JSON channel protocol (issue 8) on a ring of three real hubs in this process, each on its
// own sockets and SQLite file: a WebSocket client on one hub, an MQTT device on another, and the
// topic's key owned by the third.
const ids = ['a', 'b', 'c']
const ring: { hub?: (id: string) => Hub, stop?: () => Promise<void> } = {}
const mqttClients: MqttClient[] = []
const channels: RawChannel[] = []
const libClients: ChannelClient[] = []
const hub = (id: string): Hub => (ring.hub as (id: string) => Hub)(id)

async function device(id: string, clientId: string): Promise<MqttClient> {
  const c = await connect(`mqtt://127.0.0.1:${hub(id).ports.mqtt}`, { clientId })
  mqttClients.push(c)
  return c
}

async function channel(id: string, headers?: Record<string, string>): Promise<RawChannel> {
  const c = await RawChannel.open(hub(id).ports.admin, { headers })
  channels.push(c)
  return c
}

/** A device key (`devices/chN`) whose owner is `owner`. */
let next = 0
function keyOwnedBy(owner: string): string {
  for (;;) {
    const key = `devices/ch${next++}`
    if (hub('a').cluster.ownerOf(`${key}/x`).owner === owner) return key
  }
}

function ok(frame: ChannelServerFrame): Extract<ChannelServerFrame, { op: 'ok' }> {
  expect(frame).toMatchObject({ op: 'ok' })
  return frame as Extract<ChannelServerFrame, { op: 'ok' }>
}

async function counter(id: string, series: string): Promise<number> {
  const text = await hub(id).metrics.render()
  return Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
}

beforeAll(async () => {
  Object.assign(ring, await startRing(ids))
  await hub('a').users.add('d1', 'pw-d1', 'device')
})

afterAll(async () => {
  for (const c of libClients) c.close()
  for (const c of channels) c.close()
  await close(...mqttClients)
  await ring.stop?.()
})

describe('channels across the ring', () => {
  it('delivers to a channel on A, in owner order with (epoch, seq), what an MQTT device publishes on B for a key owned by C', async () => {
    const key = keyOwnedBy('c')
    const ch = await channel('a')
    ok(await ch.request({ op: 'join', topic: `${key}/#` }))
    const pub = await device('b', 'ch-pub-1')
    for (let i = 0; i < 200; i++) void pub.publishAsync(`${key}/n`, JSON.stringify({ n: i }), { qos: 1 })
    await waitFor(() => ch.messages.length === 200, '200 messages on the channel', 10_000)
    expect(ch.messages.map((m) => (m.payload as { n: number }).n)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    const seqs = ch.messages.map((m) => m.seq as number)
    expect(ch.messages.every((m) => m.key === key && m.join === `${key}/#` && m.epoch === ch.messages[0]?.epoch && !m.retained)).toBe(true)
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i))
  })

  it('sends a channel publish on A to an MQTT subscriber on B (owner C); a binary payload stays binary', async () => {
    const key = keyOwnedBy('c')
    const sub = await device('b', 'ch-sub-2')
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    const ch = await channel('a')
    ok(await ch.request({ op: 'publish', topic: `${key}/cmd`, payload: { on: true } }))
    ok(await ch.request({ op: 'publish', topic: `${key}/raw`, payload: Buffer.from([0, 255, 1]).toString('base64'), encoding: 'base64' }))
    await waitFor(() => got.length === 2, 'two MQTT deliveries', 5_000)
    expect(got[0]).toMatchObject({ topic: `${key}/cmd`, payload: '{"on":true}', qos: 1 })
    expect(got[1]?.topic).toBe(`${key}/raw`)
    // A channel joined to the key sees the binary one as base64 (not JSON).
    const watcher = await channel('c')
    ok(await watcher.request({ op: 'join', topic: `${key}/raw` }))
    ok(await ch.request({ op: 'publish', topic: `${key}/raw`, payload: Buffer.from([7, 0xfe]).toString('base64'), encoding: 'base64' }))
    await waitFor(() => watcher.messages.some((m) => !m.retained), 'the binary message', 5_000)
    expect(watcher.messages.find((m) => !m.retained)).toMatchObject({ encoding: 'base64', payload: Buffer.from([7, 0xfe]).toString('base64') })
  })

  it('gives a join the retained messages of its key from the owner, and of a global filter from every hub', async () => {
    const kb = keyOwnedBy('b')
    const kc = keyOwnedBy('c')
    const pub = await device('a', 'ch-pub-3')
    await pub.publishAsync(`${kb}/state`, '{"v":1}', { qos: 1, retain: true })
    await pub.publishAsync(`${kc}/state`, '{"v":2}', { qos: 1, retain: true })
    const keyed = await channel('c')
    ok(await keyed.request({ op: 'join', topic: `${kb}/#` }))
    await waitFor(() => keyed.messages.length === 1, 'the retained message', 5_000)
    expect(keyed.messages[0]).toMatchObject({ topic: `${kb}/state`, payload: { v: 1 }, retained: true })
    expect(keyed.messages[0]?.seq).toBeUndefined()
    const global = await channel('a')
    ok(await global.request({ op: 'join', topic: 'devices/+/state' }))
    await waitFor(() => global.messages.filter((m) => m.topic === `${kb}/state` || m.topic === `${kc}/state`).length === 2, 'retained of both keys', 5_000)
  })

  it('applies the device ACL: a device may join and publish only under its own devices/<id>/', async () => {
    const ch = await channel('a')
    ok(await ch.request({ op: 'auth', username: 'd1', password: 'pw-d1' }))
    ok(await ch.request({ op: 'join', topic: 'devices/d1/#' }))
    expect(await ch.request({ op: 'join', topic: 'devices/d2/#' })).toMatchObject({ op: 'error', code: 'not-authorized' })
    expect(await ch.request({ op: 'publish', topic: 'devices/d2/x', payload: 1 })).toMatchObject({ op: 'error', code: 'not-authorized' })
    expect(await ch.request({ op: 'join', topic: '#' })).toMatchObject({ op: 'error', code: 'not-authorized' })
    expect(await counter('a', 'ringhub_channel_acl_denials_total{action="subscribe"}')).toBeGreaterThanOrEqual(2)
    // Bad credentials: an error frame, then the hub closes the connection.
    const bad = await channel('a')
    expect(await bad.request({ op: 'auth', username: 'd1', password: 'wrong' })).toMatchObject({ op: 'error', code: 'bad-credentials' })
    await waitFor(() => bad.closed, 'the connection closed')
    // HTTP Basic with bad credentials is refused at the upgrade.
    await expect(RawChannel.open(hub('a').ports.admin, { headers: { authorization: `Basic ${Buffer.from('d1:nope').toString('base64')}` } })).rejects.toThrow(/401/)
    const basic = await channel('a', { authorization: `Basic ${Buffer.from('d1:pw-d1').toString('base64')}` })
    expect(await basic.request({ op: 'join', topic: 'devices/d9/#' })).toMatchObject({ op: 'error', code: 'not-authorized' })
  })

  it('answers malformed, unknown and oversized frames with an error or a close, counts them, and keeps serving', async () => {
    const ch = await channel('b')
    const before = ch.frames.length
    ch.sendRaw('{not json')
    ch.sendRaw('[1,2]')
    ch.sendRaw(JSON.stringify({ op: 'join', topic: 'x/#' })) // no ref
    ch.sendRaw(Buffer.from([1, 2, 3]), true)
    expect(await ch.request({ op: 'dance' })).toMatchObject({ op: 'error', code: 'unknown-op' })
    expect(await ch.request({ op: 'join', topic: 'a/#/b' })).toMatchObject({ op: 'error', code: 'bad-topic' })
    expect(await ch.request({ op: 'join', topic: 'devices/+/x', since: { epoch: 1, seq: 0 } })).toMatchObject({ op: 'error', code: 'since-needs-key' })
    expect(await ch.request({ op: 'join', topic: 'devices/x/#', since: { epoch: -1, seq: 0 } })).toMatchObject({ op: 'error', code: 'bad-since' })
    expect(await ch.request({ op: 'publish', topic: 'devices/x/+', payload: 1 })).toMatchObject({ op: 'error', code: 'bad-topic' })
    expect(await ch.request({ op: 'publish', topic: '$SYS/x', payload: 1 })).toMatchObject({ op: 'error', code: 'bad-topic' })
    expect(await ch.request({ op: 'publish', topic: 'devices/x/y', payload: 'not base64!', encoding: 'base64' })).toMatchObject({ op: 'error', code: 'bad-payload' })
    expect(await ch.request({ op: 'leave', topic: 'devices/never/#' })).toMatchObject({ op: 'error', code: 'not-joined' })
    const errors = ch.frames.slice(before).filter((f) => f.op === 'error')
    expect(errors.filter((f) => f.op === 'error' && f.ref === null).map((f) => f.op === 'error' && f.code)).toEqual(['malformed-json', 'not-object', 'no-ref', 'binary'])
    expect(await counter('b', 'ringhub_channel_bad_frames_total{reason="malformed-json"}')).toBeGreaterThanOrEqual(1)
    // Still serving this connection.
    ok(await ch.request({ op: 'heartbeat' }))
    // A frame over the bound (max packet 1 MiB → about 1.4 MB of base64) closes the socket (1009).
    const big = await channel('b')
    big.sendRaw(JSON.stringify({ ref: 'x', op: 'publish', topic: 'devices/x/y', payload: 'A'.repeat(2_000_000), encoding: 'base64' }))
    await waitFor(() => big.closed, 'the oversized frame closes the socket', 5_000)
    expect(big.closed?.code).toBe(1009)
    // A connection that keeps sending garbage is closed as abusive (1008).
    const abusive = await channel('b')
    for (let i = 0; i < 25; i++) abusive.sendRaw('garbage')
    await waitFor(() => abusive.closed, 'the abusive socket closed', 5_000)
    expect(abusive.closed?.code).toBe(1008)
    // The hub is fine: another connection works end to end.
    const after = await channel('b')
    ok(await after.request({ op: 'heartbeat' }))
  })

  it('resumes a join from an offset: exactly the messages after it from the owner\'s log, then live ones, no gap, no repeat', async () => {
    const key = keyOwnedBy('b')
    const pub = await device('c', 'ch-pub-5')
    const first = await channel('a')
    ok(await first.request({ op: 'join', topic: `${key}/#` }))
    for (let i = 0; i < 10; i++) await pub.publishAsync(`${key}/n`, String(i), { qos: 1 })
    await waitFor(() => first.messages.length === 10, 'the first 10', 5_000)
    const seen = first.messages[4] as ChannelMessage // offset of message 4
    first.close()
    for (let i = 10; i < 20; i++) await pub.publishAsync(`${key}/n`, String(i), { qos: 1 })
    const again = await channel('c')
    const reply = ok(await again.request({ op: 'join', topic: `${key}/#`, since: { epoch: seen.epoch, seq: seen.seq } }))
    expect(reply.resumed).toBe(true)
    for (let i = 20; i < 25; i++) await pub.publishAsync(`${key}/n`, String(i), { qos: 1 })
    await waitFor(() => again.messages.length === 20, 'messages 5..24', 5_000)
    expect(again.messages.map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => i + 5))
    expect(await counter('c', 'ringhub_channel_resumes_total{result="resumed"}')).toBe(1)
  })

  it('resumes from the other hubs\' logs what the owner\'s log no longer holds (its tail after a move, here pruned)', async () => {
    const key = keyOwnedBy('c')
    const pub = await device('a', 'ch-pub-8')
    for (let i = 0; i < 30; i++) await pub.publishAsync(`${key}/w`, String(i), { qos: 1 })
    // Only the owner's log lacks the older entries, as after a handoff whose tail is shorter: the
    // replica's copies still hold them.
    await new TopicLog(hub('c').db).prune({ maxAgeMs: 0, maxEntries: 5, maxBytes: 0 }, Date.now())
    const [since] = new TopicLog(hub('c').db).since(key, { epoch: 0, seq: 0 }, 1)
    expect(since?.seq, 'the owner holds the last 5 only').toBe(26)
    const ch = await channel('b')
    const reply = ok(await ch.request({ op: 'join', topic: `${key}/#`, since: { epoch: since?.epoch ?? 0, seq: 3 } }))
    expect(reply.resumed).toBe(true)
    await waitFor(() => ch.messages.length === 27, 'messages 3..29', 5_000)
    expect(ch.messages.map((m) => m.payload)).toEqual(Array.from({ length: 27 }, (_, i) => i + 3))
  })

  it('says so when the offset is older than the ring\'s logs hold, and sends the retained snapshot instead', async () => {
    const key = keyOwnedBy('c')
    const pub = await device('a', 'ch-pub-6')
    for (let i = 0; i < 30; i++) await pub.publishAsync(`${key}/v`, String(i), { qos: 1, retain: i === 29 })
    // Retention keeps the newest 5 entries of every key, in every hub's log (the owner's and the
    // replica's: a read from before the owner's oldest entry asks the other hubs' logs too).
    for (const id of ['a', 'b', 'c']) await new TopicLog(hub(id).db).prune({ maxAgeMs: 0, maxEntries: 5, maxBytes: 0 }, Date.now())
    const ch = await channel('b')
    const reply = ok(await ch.request({ op: 'join', topic: `${key}/#`, since: { epoch: 1, seq: 3 } }))
    expect(reply.resumed).toBe(false)
    expect(reply.oldest).toMatchObject({ seq: 26 })
    await waitFor(() => ch.messages.length === 1, 'the retained snapshot', 5_000)
    expect(ch.messages[0]).toMatchObject({ topic: `${key}/v`, payload: 29, retained: true })
    // Live messages follow.
    await pub.publishAsync(`${key}/v`, '30', { qos: 1 })
    await waitFor(() => ch.messages.length === 2, 'the live one', 5_000)
    expect(ch.messages[1]).toMatchObject({ payload: 30, retained: false })
  })

  it('holds QoS 1 message frames beyond 100 unacknowledged until the client acks', async () => {
    const key = keyOwnedBy('a')
    const ch = await channel('b')
    ok(await ch.request({ op: 'join', topic: `${key}/#`, qos: 1 }))
    const pub = await device('c', 'ch-pub-7')
    await Promise.all(Array.from({ length: 150 }, (_, i) => pub.publishAsync(`${key}/n`, String(i), { qos: 1 })))
    await waitFor(() => ch.messages.length === 100, '100 frames', 5_000)
    await new Promise((r) => setTimeout(r, 200))
    expect(ch.messages.length).toBe(100)
    expect(ch.messages.map((m) => m.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    ch.sendRaw(JSON.stringify({ op: 'ack', id: 60 }))
    await waitFor(() => ch.messages.length === 150, 'the rest after the ack', 5_000)
    expect(ch.messages.map((m) => m.payload)).toEqual(Array.from({ length: 150 }, (_, i) => i))
  })

  it('tells who is joined to a topic across the ring, and joins and leaves as they happen', async () => {
    const topic = `${keyOwnedBy('a')}/#`
    const watcher = await channel('c')
    const none = ok(await watcher.request({ op: 'presence', topic, watch: true }))
    expect(none.members).toEqual([])
    const one = await channel('a')
    ok(await one.request({ op: 'join', topic }))
    const two = await channel('b')
    ok(await two.request({ op: 'join', topic }))
    await waitFor(() => watcher.frames.filter((f) => f.op === 'presence' && f.event === 'join').length === 2, 'two join events', 5_000)
    const members = ok(await watcher.request({ op: 'presence', topic })).members ?? []
    expect(members.map((m) => m.hub).sort()).toEqual(['a', 'b'])
    ok(await one.request({ op: 'leave', topic }))
    await waitFor(() => watcher.frames.some((f) => f.op === 'presence' && f.event === 'leave' && f.member.hub === 'a'), 'the leave event', 5_000)
    two.close()
    await waitFor(() => watcher.frames.some((f) => f.op === 'presence' && f.event === 'leave' && f.member.hub === 'b'), 'the leave of a closed connection', 5_000)
    expect(ok(await watcher.request({ op: 'presence', topic })).members).toEqual([])
  })

  it('the client library joins, publishes and sees its own messages through another hub', async () => {
    const key = keyOwnedBy('b')
    const client = new ChannelClient({ urls: [`ws://127.0.0.1:${hub('a').ports.admin}/channels`], WebSocket: WebSocket as never })
    libClients.push(client)
    await client.ready()
    const got: ChannelMessage[] = []
    await client.join(`${key}/#`, (m) => got.push(m), { qos: 1 })
    for (let i = 0; i < 50; i++) await client.publish(`${key}/n`, { i })
    await waitFor(() => got.length === 50, '50 own messages', 5_000)
    expect(got.map((m) => (m.payload as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})
