import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { DevicesResponse, HubStatsPoint, StatsResponse, TimelineEvent, TopicHistoryResponse, TopicsResponse } from '../../hub/src/contract/admin-api.js'
import type { RingView, RingVnodesView } from '../../hub/src/contract/ring-view.js'
import type { Hub } from '../../hub/src/hub.js'
import type { TcpPeerBus } from '../../hub/src/routing/tcp-peer-bus.js'
import { counter } from '../helpers/admin.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { startRing } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// One 3-hub ring for the file: every route is asked on one hub about things that happen on another.
let ring: Awaited<ReturnType<typeof startRing>>
const clients: MqttClient[] = []
const sockets: AdminWsClient[] = []
const admin = (id: string): string => `127.0.0.1:${ring.hub(id).ports.admin}`
const mqttUrl = (id: string): string => `mqtt://127.0.0.1:${ring.hub(id).ports.mqtt}`
const owner = (hub: Hub, topic: string): string => hub.cluster.ownerOf(topic).owner as string

async function get<T>(id: string, path: string): Promise<{ status: number, body: T }> {
  const res = await fetch(`http://${admin(id)}${path}`, { signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json() as T }
}

async function post<T>(id: string, path: string, body: unknown): Promise<{ status: number, body: T }> {
  const res = await fetch(`http://${admin(id)}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json() as T }
}

async function device(hub: string, id: string): Promise<MqttClient> {
  const client = await connect(mqttUrl(hub), { clientId: id })
  clients.push(client)
  return client
}

async function socket(hub: string): Promise<AdminWsClient> {
  const ws = await AdminWsClient.open(admin(hub))
  sockets.push(ws)
  return ws
}

beforeAll(async () => { ring = await startRing(['a', 'b', 'c']) }, 30_000)
afterAll(async () => {
  for (const ws of sockets) await ws.close()
  await close(...clients)
  await ring?.stop()
})

describe('admin API v1 on a 3-hub ring', () => {
  it('serves every older /api route under /api/v1 too, and the new ones only there', async () => {
    const old = await get<RingView>('a', '/api/ring')
    const v1 = await get<RingView>('a', '/api/v1/ring')
    expect(v1.status).toBe(200)
    expect(v1.body.checksum).toBe(old.body.checksum)
    expect(v1.body.members.map((m) => m.id)).toEqual(['a', 'b', 'c'])
    expect((await get<{ id: string }>('b', '/api/v1/hub')).body.id).toBe('b')
    expect((await get<{ owner: string }>('a', '/api/v1/ring/owner?topic=devices/x/t')).body.owner).toBe(owner(ring.hub('a'), 'devices/x/t'))
    expect((await get('a', '/api/stats')).status).toBe(404)
    expect((await get('a', '/api/v1/nothing')).status).toBe(404)
  })

  it('ring/vnodes: the vnode positions of the ring, sorted, 400 per hub, their arcs giving the view\'s shares', async () => {
    const { status, body } = await get<RingVnodesView>('c', '/api/v1/ring/vnodes')
    const view = (await get<RingView>('c', '/api/v1/ring')).body
    expect(status).toBe(200)
    expect(body).toMatchObject({ apiVersion: 1, checksum: view.checksum, format: 'hashring/md5/v100/r4/hub:' })
    expect(body.positions).toHaveLength(3 * 400)
    expect(body.owners).toHaveLength(body.positions.length)
    for (let i = 1; i < body.positions.length; i++) expect(body.positions[i]).toBeGreaterThanOrEqual(body.positions[i - 1] as number)
    const shares = new Map<string, number>()
    body.positions.forEach((p, i) => {
      const start = i === 0 ? (body.positions.at(-1) as number) - 2 ** 32 : body.positions[i - 1] as number
      shares.set(body.owners[i] as string, (shares.get(body.owners[i] as string) ?? 0) + (p - start) / 2 ** 32)
    })
    for (const m of view.members) expect(shares.get(m.id) ?? 0).toBeCloseTo(m.share, 9)
  })

  it('stats: any hub answers with the points of all three hubs', async () => {
    const points = await waitFor(async () => {
      const { body } = await get<StatsResponse>('a', '/api/v1/stats')
      const hubs = new Set(body.points.map((p) => p.hub))
      return hubs.size === 3 ? body.points : undefined
    }, 'stats of a, b and c', 10_000, 200)
    const p = points.find((x) => x.hub === 'c') as HubStatsPoint
    expect(p.intervalMs).toBeGreaterThan(0)
    for (const field of ['connections', 'msgsInPerS', 'msgsOutPerS', 'interHubBytesInPerS', 'interHubBytesOutPerS', 'drops', 'storeLagMs'] as const) expect(typeof p[field]).toBe('number')
    expect(points.map((x) => x.tsMs)).toEqual([...points.map((x) => x.tsMs)].sort((x, y) => x - y))
    // One hub only, and the live window only from sinceMs on.
    const onlyB = await get<StatsResponse>('a', `/api/v1/stats?hub=b&sinceMs=${Date.now() - 3_000}`)
    expect(onlyB.body.points.length).toBeGreaterThan(0)
    expect(onlyB.body.points.every((x) => x.hub === 'b' && x.tsMs >= Date.now() - 10_000)).toBe(true)
  })

  it('devices: a device connected to hub c shows online with hub c when asked on hub a, then offline', async () => {
    const dev = await device('c', 'dev-c1')
    for (let i = 0; i < 5; i++) await dev.publishAsync(`devices/dev-c1/telemetry`, `{"t":${i}}`, { qos: 1 })
    const seen = await waitFor(async () => (await get<DevicesResponse>('a', '/api/v1/devices?search=DEV-C')).body.devices.find((d) => d.id === 'dev-c1' && d.online), 'dev-c1 online')
    expect(seen).toMatchObject({ online: true, hub: 'c', owner: owner(ring.hub('a'), 'devices/dev-c1') })
    expect(seen.msgsPerS).toBeCloseTo(0.5, 5)
    expect(seen.lastSeenMs).toBeGreaterThan(Date.now() - 10_000)
    const other = await device('b', 'other-dev')
    const all = await get<DevicesResponse>('b', '/api/v1/devices?limit=1')
    expect(all.body.devices).toHaveLength(1)
    expect(all.body.total).toBeGreaterThanOrEqual(2)
    await close(dev, other)
    const gone = await waitFor(async () => (await get<DevicesResponse>('a', '/api/v1/devices?search=dev-c1')).body.devices.find((d) => d.id === 'dev-c1' && !d.online), 'dev-c1 offline')
    expect(gone.hub).toBe('c')
  })

  it('topics: counts, last value, retained flag and owner across hubs; history from the owner; publish', async () => {
    const onA = await device('a', 'pub-a')
    const onC = await device('c', 'pub-c')
    await onA.publishAsync('devices/t1/status', 'online', { qos: 1, retain: true })
    await onC.publishAsync('devices/t1/telemetry', '{"v":1}', { qos: 1 })
    await onA.publishAsync('devices/t1/telemetry', '{"v":2}', { qos: 1 })
    await onC.publishAsync('devices/t1/telemetry', Buffer.from([0xff, 0x00, 0xfe]), { qos: 1 })
    const { body } = await get<TopicsResponse>('b', '/api/v1/topics?prefix=devices/t1/')
    const byTopic = new Map(body.topics.map((t) => [t.topic, t]))
    expect(body.total).toBe(2)
    expect(byTopic.get('devices/t1/status')).toMatchObject({ count: 1, lastPayload: 'online', encoding: 'utf8', retained: true, owner: owner(ring.hub('b'), 'devices/t1/status') })
    expect(byTopic.get('devices/t1/telemetry')).toMatchObject({ count: 3, lastPayload: Buffer.from([0xff, 0x00, 0xfe]).toString('base64'), encoding: 'base64', retained: false })

    // A plain publish on c after the retained one on a: still retained (a saw the newest retain
    // flag); an empty retained publish on c clears it.
    await onC.publishAsync('devices/t1/status', 'plain', { qos: 1 })
    const after = (await get<TopicsResponse>('a', '/api/v1/topics?prefix=devices/t1/status')).body.topics[0]
    expect(after).toMatchObject({ count: 2, lastPayload: 'plain', retained: true })
    await onC.publishAsync('devices/t1/status', '', { qos: 1, retain: true })
    expect((await get<TopicsResponse>('a', '/api/v1/topics?prefix=devices/t1/status')).body.topics[0]).toMatchObject({ count: 3, retained: false })

    const history = await get<TopicHistoryResponse>('a', '/api/v1/topics/history?topic=devices/t1/telemetry&limit=2')
    expect(history.status).toBe(200)
    expect(history.body.messages.map((m) => m.payload)).toEqual(['{"v":2}', Buffer.from([0xff, 0x00, 0xfe]).toString('base64')])
    const [first, second] = history.body.messages
    expect(second?.seq).toBeGreaterThan(first?.seq as number)

    // POST /api/v1/publish on a reaches a subscriber on c, after the owner's ack.
    const sub = await device('c', 'sub-c')
    const got = collect(sub)
    await sub.subscribeAsync('devices/t1/cmd', { qos: 1 })
    const ok = await post<{ ok: boolean }>('a', '/api/v1/publish', { topic: 'devices/t1/cmd', payload: Buffer.from('hi\u0001').toString('base64'), encoding: 'base64', qos: 1 })
    expect(ok).toEqual({ status: 200, body: { ok: true } })
    await waitFor(() => got.find((m) => m.topic === 'devices/t1/cmd' && m.payload === 'hi\u0001'), 'the published message on c')
  })

  it('topics: pages in topic order (order=topic, after=next) list every topic of the ring once', async () => {
    const onA = await device('a', 'pager-a')
    const onC = await device('c', 'pager-c')
    const names = Array.from({ length: 7 }, (_, i) => `devices/pg/t${i}`)
    for (const [i, topic] of names.entries()) await (i % 2 === 0 ? onA : onC).publishAsync(topic, `v${i}`, { qos: 1 })
    await onC.publishAsync('devices/pg/t0', 'v0-again', { qos: 1 })
    const seen: string[] = []
    let after = ''
    let pages = 0
    for (;;) {
      const { status, body } = await get<TopicsResponse>('b', `/api/v1/topics?prefix=devices/pg/&order=topic&limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`)
      expect(status).toBe(200)
      expect(body.total).toBe(7)
      pages++
      seen.push(...body.topics.map((t) => t.topic))
      if (body.next === undefined) break
      expect(body.topics).toHaveLength(3)
      after = body.next
    }
    expect(pages).toBe(3)
    expect(seen).toEqual([...names].sort())
    const t0 = (await get<TopicsResponse>('b', '/api/v1/topics?prefix=devices/pg/t0&order=topic')).body.topics[0]
    expect(t0).toMatchObject({ topic: 'devices/pg/t0', count: 2, lastPayload: 'v0-again' })
    // The default order has no cursor.
    expect((await get<TopicsResponse>('b', '/api/v1/topics?prefix=devices/pg/&limit=3')).body.next).toBeUndefined()
  })

  it('bad queries and bodies get a 400 with a reason, are counted, and change nothing', async () => {
    const before = await counter(admin('a'), 'ringhub_admin_bad_requests_total')
    const cases: Array<[string, string]> = [
      ['/api/v1/devices?limit=abc', 'limit'],
      ['/api/v1/devices?limit=0', 'limit'],
      ['/api/v1/topics?limit=99999999', 'limit'],
      ['/api/v1/topics?order=name', 'order'],
      ['/api/v1/topics?after=devices/a', 'order=topic'],
      ['/api/v1/stats?sinceMs=-5', 'sinceMs'],
      ['/api/v1/timeline?limit=1.5', 'limit'],
      ['/api/v1/topics/history?topic=devices/%2B/x', 'topic'],
      ['/api/v1/topics/history', 'topic'],
    ]
    for (const [path, mentions] of cases) {
      const { status, body } = await get<{ error: string }>('a', path)
      expect(status, path).toBe(400)
      expect(body.error, path).toContain(mentions)
    }
    const bodies: unknown[] = ['{not json', '[1]', { topic: 'a/#', payload: 'x' }, { topic: '$SYS/x', payload: 'x' }, { topic: 'a/b', payload: 5 }, { topic: 'a/b', payload: 'x', qos: 2 }, { topic: 'a/b', payload: '!!', encoding: 'base64' }, { topic: 'a/b', payload: 'x', retain: 'yes' }]
    for (const body of bodies) expect((await post('a', '/api/v1/publish', body)).status, JSON.stringify(body)).toBe(400)
    expect(await counter(admin('a'), 'ringhub_admin_bad_requests_total')).toBe(before + cases.length + bodies.length)
    const topics = await get<TopicsResponse>('a', '/api/v1/topics?prefix=a/')
    expect(topics.body.total).toBe(0)
  })

  it('a peer\'s malformed admin queries over the link get a failed reply, counted, and the hub answers on; a query it does not know (a newer hub\'s) is refused, not counted', async () => {
    // The link as hub a's router uses it (private to the hub; a test reaches in).
    const bus = (ring.hub('a') as unknown as { parts: { bus: TcpPeerBus } }).parts.bus
    const ask = (query: string, params: string) => bus.request('b', { t: 'admin-query', query, params }, 2_000)
    expect(await ask('nope', '{}')).toMatchObject({ t: 'failed', reason: expect.stringContaining('unknown admin query') as string })
    expect(await ask('devices', 'not json')).toMatchObject({ t: 'failed', reason: expect.stringContaining('JSON') as string })
    expect(await ask('devices', '[1]')).toMatchObject({ t: 'failed' })
    expect(await ask('devices', 'null')).toMatchObject({ t: 'failed' })
    expect(await ask('topic-history', '{"topic":5,"limit":"x"}')).toEqual({ t: 'admin-answer', body: '{"messages":[]}' })
    expect(await ask('stats', '{"sinceMs":"yesterday"}')).toMatchObject({ t: 'admin-answer' })
    // Not known (a newer hub's), then three malformed.
    expect(await counter(admin('b'), 'ringhub_admin_bad_requests_total', 'reason="peer-query"')).toBe(3)
    expect((await get<DevicesResponse>('b', '/api/v1/devices')).status).toBe(200)
    expect((await get('a', '/api/v1/stats?hub=nobody')).status).toBe(404)
  })

  it('timeline: any hub answers with the joins every hub saw', async () => {
    const { body } = await get<{ events: TimelineEvent[] }>('c', '/api/v1/timeline?sinceMs=0')
    const joins = body.events.filter((e) => e.type === 'memberJoined')
    expect(joins.some((e) => e.seenBy === 'a' && e.member === 'c')).toBe(true)
    expect(joins.some((e) => e.seenBy === 'b')).toBe(true)
    expect(body.events.some((e) => e.type === 'ownershipChanged' && (e.movedShare as number) > 0)).toBe(true)
    const ids = body.events.map((e) => `${e.seenBy}|${e.tsMs}|${e.type}|${e.member}`)
    expect(new Set(ids).size).toBe(ids.length)
    expect((await get<{ events: TimelineEvent[] }>('c', '/api/v1/timeline?limit=2')).body.events).toHaveLength(2)
  })
})

describe('the admin WebSocket on a 3-hub ring', () => {
  it('ring: a frame on subscribe; stats: every hub\'s points each second, each point once and none left out', async () => {
    const ws = await socket('b')
    expect(await ws.call({ ref: 'r1', op: 'subscribe', channel: 'ring' })).toEqual({ ref: 'r1', op: 'ok' })
    const ringFrame = await ws.next((f) => f.op === 'ring', 'ring frame')
    expect(ringFrame).toMatchObject({ op: 'ring', ring: { self: 'b', checksum: ring.hub('a').cluster.view().checksum } })
    expect(await ws.call({ ref: 's1', op: 'subscribe', channel: 'stats' })).toEqual({ ref: 's1', op: 'ok' })
    const started = performance.now()
    await waitFor(() => ws.of('stats').length >= 3, '3 stats frames', 6_000)
    expect(performance.now() - started).toBeGreaterThan(1_500)
    await waitFor(() => ws.of('stats').length >= 5, '5 stats frames', 6_000)
    const streamed = ws.of('stats').flatMap((f) => f.points)
    const ids = (points: readonly HubStatsPoint[]): string[] => points.map((p) => `${p.hub}@${p.tsMs}`)
    expect(new Set(ids(streamed)).size).toBe(streamed.length)
    // Per hub, every 1 s point the stats hold between its first and its last streamed one was streamed.
    const stored = (await get<StatsResponse>('a', `/api/v1/stats?sinceMs=${Math.min(...streamed.map((p) => p.tsMs))}`)).body.points
    for (const hub of ['a', 'b', 'c']) {
      const mine = streamed.filter((p) => p.hub === hub)
      expect(mine.length).toBeGreaterThanOrEqual(3)
      const [from, to] = [(mine[0] as HubStatsPoint).tsMs, (mine.at(-1) as HubStatsPoint).tsMs]
      expect(ids(mine)).toEqual(ids(stored.filter((p) => p.hub === hub && p.intervalMs < 60_000 && p.tsMs >= from && p.tsMs <= to)))
    }
    expect(await ws.call({ ref: 's2', op: 'unsubscribe', channel: 'stats' })).toEqual({ ref: 's2', op: 'ok' })
    expect(await ws.call({ ref: 's3', op: 'unsubscribe', channel: 'stats' })).toEqual({ ref: 's3', op: 'ok' })
  })

  it('devices: a device connecting on hub c is pushed to a socket on hub a', async () => {
    const ws = await socket('a')
    await ws.call({ ref: 'd1', op: 'subscribe', channel: 'devices' })
    await device('c', 'pushed-dev')
    const frame = await ws.next((f) => f.op === 'devices' && f.devices.some((d) => d.id === 'pushed-dev'), 'devices frame', 5_000)
    expect(frame.op === 'devices' && frame.devices.find((d) => d.id === 'pushed-dev')).toMatchObject({ online: true, hub: 'c' })
  })

  it('tap: a message published on hub c and owned anywhere reaches a tap on hub a', async () => {
    const ws = await socket('a')
    expect(await ws.call({ ref: 't1', op: 'subscribe', channel: 'tap', filter: 'devices/+/tap' })).toEqual({ ref: 't1', op: 'ok' })
    const pub = await device('c', 'tap-pub')
    // The tap's interest reaches the owner shortly after the subscribe; publish until one shows.
    const frame = await waitFor(async () => {
      await pub.publishAsync('devices/tap1/tap', 'hello tap', { qos: 1 })
      return ws.of('tap').find((f) => f.messages.length > 0)
    }, 'a tap frame', 5_000, 100)
    expect(frame.messages[0]).toMatchObject({ topic: 'devices/tap1/tap', payload: 'hello tap', encoding: 'utf8', qos: 1 })
    expect(frame.messages[0]?.seq).toBeGreaterThan(0)
  })

  it('tap: a burst is sampled to maxPerS, the rest counted as skipped, in at most 10 frames a second', async () => {
    const ws = await socket('b')
    await ws.call({ ref: 't2', op: 'subscribe', channel: 'tap', filter: 'devices/burst/#', maxPerS: 5 })
    const pub = await device('a', 'burst-pub')
    await waitFor(async () => {
      await pub.publishAsync('devices/burst/warm', 'w', { qos: 1 })
      return ws.of('tap').length > 0
    }, 'the tap live', 5_000, 100)
    const from = ws.frames.length
    const started = performance.now()
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync('devices/burst/x', String(i), { qos: 1 })))
    const tally = (): { passed: number, skipped: number, frames: number } => {
      const frames = ws.frames.slice(from).filter((f) => f.op === 'tap')
      return frames.reduce((s, f) => ({ passed: s.passed + f.messages.filter((m) => m.topic === 'devices/burst/x').length, skipped: s.skipped + f.skipped, frames: s.frames + 1 }), { passed: 0, skipped: 0, frames: 0 })
    }
    await waitFor(() => tally().passed + tally().skipped >= 200, 'all 200 seen (passed or skipped)', 10_000)
    const { passed, skipped, frames } = tally()
    const seconds = Math.ceil((performance.now() - started) / 1000) + 1
    expect(skipped).toBeGreaterThan(0)
    expect(passed).toBeLessThanOrEqual(5 * seconds)
    expect(frames).toBeLessThanOrEqual(10 * seconds + 1)
  })

  it('malformed frames get an error reply, are counted, and change nothing; abuse closes the socket', async () => {
    const ws = await socket('c')
    await ws.call({ ref: 'ok1', op: 'subscribe', channel: 'ring' })
    const before = await counter(admin('c'), 'ringhub_admin_ws_bad_frames_total')
    const bad: Array<[unknown, string]> = [
      ['{oops', 'not JSON'],
      ['[1,2]', 'object'],
      [{ op: 'ping' }, 'ref'],
      [{ ref: 'b1', op: 'dance' }, 'unknown op'],
      [{ ref: 'b2', op: 'subscribe', channel: 'gossip' }, 'unknown channel'],
      [{ ref: 'b3', op: 'subscribe', channel: 'tap', filter: 'a/#/b' }, '#'],
      [{ ref: 'b4', op: 'subscribe', channel: 'tap', filter: 'a/b+' }, '+'],
      [{ ref: 'b5', op: 'subscribe', channel: 'tap', filter: 'a/b', maxPerS: 501 }, 'maxPerS'],
      [JSON.stringify({ ref: 'b6', op: 'ping', pad: 'x'.repeat(70 * 1024) }), 'limited'],
    ]
    for (const [frame, says] of bad) {
      const from = ws.frames.length
      ws.send(frame)
      const reply = await ws.next((f) => f.op === 'error', `error for ${String(frame).slice(0, 40)}`, 5_000, from)
      expect(reply.op === 'error' && reply.reason).toContain(says)
    }
    expect(await counter(admin('c'), 'ringhub_admin_ws_bad_frames_total')).toBe(before + bad.length)
    // The socket still works and its ring subscription is untouched.
    expect(await ws.call({ ref: 'ok2', op: 'ping' })).toEqual({ ref: 'ok2', op: 'ok' })
    expect(ws.closed).toBeUndefined()
    // Keep sending garbage: closed with 1008.
    for (let i = 0; i < 30; i++) ws.send('garbage')
    await waitFor(() => ws.closed, 'the abusive socket closed')
    expect(ws.closed?.code).toBe(1008)
    expect(await counter(admin('c'), 'ringhub_admin_ws_closed_total', 'reason="abuse"')).toBeGreaterThanOrEqual(1)
  })
})
