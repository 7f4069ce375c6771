import { createHmac, randomBytes } from 'node:crypto'
import { Socket as UdpSocket, createSocket } from 'node:dgram'
import { createConnection, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { encodePacket } from '../../hub/src/membership/codec.js'
import { Keyring } from '../../hub/src/membership/keyring.js'
import { PacketSecurity } from '../../hub/src/membership/security.js'
import type { SimpleMessage } from '../../hub/src/membership/messages.js'
import { FrameKind, encodeFrame } from '../../hub/src/routing/link-frames.js'
import { counter, gauge, oneRing } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { rawLink, startBus } from '../helpers/peer-bus.js'
import { waitFor } from '../helpers/wait.js'

// Garbage, replayed and unkeyed packets on a ring's gossip port (UDP and TCP) and inter-hub port,
// against three in-process hubs on real loopback sockets with a gossip key. Every refused input is
// counted under its reason on the receiving hub; no input changes membership or breaks a link,
// and afterwards the ring routes a QoS 1 message from one hub through another to a third.
//
// Replays: every gossip datagram the hubs sent while one of them left gracefully and came back
// (pings, acks, alive, the leave itself) is captured and sent again to every hub. They decrypt
// fine (a replay is a genuine packet) and are not counted as bad: SWIM news is idempotent and
// ordered by incarnation, so an old `dead` or `suspect` is stale (precedence.ts: older → ignore)
// exactly like the copies of the same rumour ordinary gossip delivers several times, and the
// test shows it changes nothing.

const KEY = randomBytes(32)
const IDS = ['a', 'b', 'c'] as const
const dirs = new Map(IDS.map((id) => [id, tempDir()]))
const hubs = new Map<string, Hub>()
const hub = (id: string): Hub => hubs.get(id) as Hub
const adminOf = (id: string): string => `127.0.0.1:${hub(id).ports.admin}`
const clients: MqttClient[] = []
const sockets = new Set<Socket | UdpSocket>()

/** Datagrams sent by the hubs of this process while capturing: bytes and destination port. */
const captured: Array<{ bytes: Buffer, port: number }> = []
let capturing = false
const originalSend = UdpSocket.prototype.send

async function start(id: string, extra: { gossip?: number } = {}): Promise<Hub> {
  const seed = id === 'a' ? [] : [`127.0.0.1:${hub('a').ports.gossip}`]
  // LAN profile: lenient failure detection, so a loaded test machine does not make real suspicions.
  const h = await startHub((dirs.get(id as typeof IDS[number]) as { path: string }).path, { id, allowAnonymous: true, profile: 'lan', gossipKeys: [KEY.toString('base64')], join: seed, ...extra })
  hubs.set(id, h)
  return h
}

const views = (): ReturnType<Hub['cluster']['view']>[] => IDS.map((id) => hub(id).cluster.view())
const membership = (): string => JSON.stringify(views().map((v) => [v.checksum, v.members.map((m) => [m.id, m.state, m.incarnation])]))
const gossipRejected = (id: string, reason: string): Promise<number> => counter(adminOf(id), 'ringhub_gossip_rejected_total', `reason="${reason}"`)
const linkRejected = (id: string, reason: string): Promise<number> => counter(adminOf(id), 'ringhub_interhub_rejected_total', `reason="${reason}"`)
const events = (id: string): Promise<number> => counter(adminOf(id), 'ringhub_membership_events_total')

beforeAll(async () => {
  // A spy on every UDP send in this process (only the hubs send UDP here): the capture to replay.
  UdpSocket.prototype.send = function spiedSend(this: UdpSocket, ...args: unknown[]) {
    const [msg, port] = args
    if (capturing && msg instanceof Uint8Array && typeof port === 'number') captured.push({ bytes: Buffer.from(msg), port })
    return (originalSend as (...a: unknown[]) => void).apply(this, args)
  } as typeof UdpSocket.prototype.send
  for (const id of IDS) await start(id)
  await waitFor(() => oneRing(views(), IDS), 'one ring of three', 15_000, 20)
}, 30_000)

afterAll(async () => {
  UdpSocket.prototype.send = originalSend
  for (const s of sockets) {
    if (s instanceof UdpSocket) s.close()
    else s.destroy()
  }
  await close(...clients)
  await Promise.all([...hubs.values()].map((h) => h.stop()))
  for (const d of dirs.values()) d.remove()
})

function udpSend(port: number, bytes: Uint8Array): Promise<void> {
  const socket = createSocket('udp4')
  // The unspied send: these are the test's own datagrams, not the hubs'.
  const send = originalSend as (this: UdpSocket, msg: Uint8Array, port: number, address: string, callback: () => void) => void
  return new Promise((resolve) => send.call(socket, bytes, port, '127.0.0.1', () => { socket.close(); resolve() }))
}

/** Sends one length-prefixed request on the gossip TCP port and resolves when the hub closes it. */
function gossipTcp(port: number, bytes: Buffer, then: 'wait' | 'end' = 'wait'): Promise<Buffer> {
  const socket = createConnection(port, '127.0.0.1')
  sockets.add(socket)
  const got: Buffer[] = []
  socket.on('data', (d: Buffer) => got.push(d))
  socket.on('error', () => {})
  socket.write(bytes)
  if (then === 'end') socket.end()
  return new Promise((resolve) => socket.on('close', () => { sockets.delete(socket); resolve(Buffer.concat(got)) }))
}

const framed = (data: Uint8Array): Buffer => Buffer.concat([Buffer.from([(data.length >>> 24) & 0xff, (data.length >>> 16) & 0xff, (data.length >>> 8) & 0xff, data.length & 0xff]), data])
const incarnationOf = (of: string): number => hub('a').cluster.view().members.find((m) => m.id === of)?.incarnation as number

describe('replayed gossip', () => {
  it('replays of every datagram sent while a hub left and came back change no membership and are not mistaken for attacks', async () => {
    const before = incarnationOf('c')
    const gossipPort = hub('c').ports.gossip
    capturing = true
    await hub('c').stop() // graceful: a leave (`dead` from c about c) goes round
    hubs.delete('c')
    await waitFor(() => ['a', 'b'].every((id) => hub(id).cluster.view().members.find((m) => m.id === 'c')?.state === 'left'), 'c left', 10_000, 20)
    await start('c', { gossip: gossipPort })
    await waitFor(() => oneRing(views(), IDS), 'c back', 15_000, 20)
    await new Promise((r) => setTimeout(r, 1_200)) // a probe round or so with c back: pings and acks of the new life
    capturing = false
    expect(incarnationOf('c')).toBeGreaterThan(before)
    expect(captured.length).toBeGreaterThan(10)

    const snapshot = membership()
    const eventsBefore = await Promise.all(IDS.map(events))
    const rejectedBefore = await Promise.all(IDS.map((id) => counter(adminOf(id), 'ringhub_gossip_rejected_total')))
    const packetsBefore = await Promise.all(IDS.map((id) => gauge(adminOf(id), 'ringhub_gossip_packets_in_total')))
    // Each captured datagram, twice, to every hub (whoever it was meant for).
    let sent = 0
    for (let round = 0; round < 2; round++) {
      for (const { bytes } of captured) {
        for (const id of IDS) { await udpSend(hub(id).ports.gossip, bytes); sent++ }
      }
    }
    await waitFor(async () => (await Promise.all(IDS.map((id) => gauge(adminOf(id), 'ringhub_gossip_packets_in_total')))).every((n, i) => n >= (packetsBefore[i] as number) + sent / IDS.length), 'replays received', 10_000, 20)
    await new Promise((r) => setTimeout(r, 500))
    console.log(`replayed ${captured.length} captured gossip datagrams ×2 to each of ${IDS.length} hubs (${sent} in all)`)
    expect(membership(), 'membership after the replays').toBe(snapshot)
    expect(await Promise.all(IDS.map(events)), 'no membership event (suspect, dead, left, refute)').toEqual(eventsBefore)
    expect(await Promise.all(IDS.map((id) => counter(adminOf(id), 'ringhub_gossip_rejected_total'))), 'replays are genuine: none refused').toEqual(rejectedBefore)
  })

  it('an old `dead` or `suspect` about a live member, sealed with the ring key (a capture from an earlier life), is ignored', async () => {
    const seal = new PacketSecurity({ keyring: new Keyring([KEY]) })
    const snapshot = membership()
    const eventsBefore = await Promise.all(IDS.map(events))
    for (const target of IDS) {
      const stale = incarnationOf(target) - 1
      expect(stale).toBeGreaterThanOrEqual(0)
      const old: SimpleMessage[] = [
        { type: 'dead', incarnation: stale, node: target, from: target },
        { type: 'dead', incarnation: stale, node: target, from: 'a' },
        { type: 'suspect', incarnation: stale, node: target, from: 'b' },
      ]
      for (const m of old) for (const id of IDS) await udpSend(hub(id).ports.gossip, seal.seal(encodePacket(m)))
    }
    await new Promise((r) => setTimeout(r, 500))
    expect(membership()).toBe(snapshot)
    expect(await Promise.all(IDS.map(events))).toEqual(eventsBefore)
  })
})

describe('unkeyed and garbage gossip', () => {
  it.each([
    ['a forged plain `dead` about b (no key)', 'auth-failed', (): Uint8Array => encodePacket({ type: 'dead', incarnation: incarnationOf('b') + 5, node: 'b', from: 'x' })],
    ['a `dead` about b sealed under another key', 'auth-failed', (): Uint8Array => new PacketSecurity({ keyring: new Keyring([randomBytes(32)]) }).seal(encodePacket({ type: 'dead', incarnation: incarnationOf('b') + 5, node: 'b', from: 'x' }))],
    ['a captured datagram with one bit flipped', 'auth-failed', (): Uint8Array => { const b = Buffer.from((captured[0] as { bytes: Buffer }).bytes); b[b.length - 20] = (b[b.length - 20] as number) ^ 1; return b }],
    ['a captured datagram cut short', 'malformed', (): Uint8Array => (captured[0] as { bytes: Buffer }).bytes.subarray(0, 20)],
    ['random bytes', 'auth-failed', (): Uint8Array => Buffer.concat([Buffer.from([0x01]), randomBytes(90)])],
    ['an empty datagram', 'malformed', (): Uint8Array => Buffer.alloc(0)],
  ])('UDP: %s is refused and counted (%s); b stays alive', async (_name, reason, bytes) => {
    const snapshot = membership()
    const before = await gossipRejected('a', reason)
    await udpSend(hub('a').ports.gossip, bytes())
    await waitFor(async () => (await gossipRejected('a', reason)) === before + 1, `counted as ${reason}`, 3_000, 10)
    expect(membership()).toBe(snapshot)
  })

  it.each([
    ['a plain push-pull saying everyone is dead (no key)', 'auth-failed', 'wait', (): Buffer => framed(encodePacket({ type: 'push-pull', join: false, members: IDS.map((id) => ({ id, incarnation: incarnationOf(id) + 9, state: 'dead' as const, addresses: { gossip: '127.0.0.1:1' }, meta: { version: '0.0.0', role: 'hub' as const } })) }))],
    ['random bytes in a frame', 'auth-failed', 'wait', (): Buffer => framed(Buffer.concat([Buffer.from([0x01]), randomBytes(200)]))],
    ['a frame claiming 2 GiB', 'stream-too-large', 'wait', (): Buffer => Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x01])],
    ['a frame cut short, then FIN', 'stream-truncated', 'end', (): Buffer => framed(randomBytes(100)).subarray(0, 50)],
  ] as const)('TCP (push-pull port): %s is refused and counted (%s)', async (_name, reason, then, bytes) => {
    const snapshot = membership()
    const before = await gossipRejected('b', reason)
    const answer = await gossipTcp(hub('b').ports.gossip, bytes(), then)
    expect(answer.length, 'no state handed out').toBe(0)
    await waitFor(async () => (await gossipRejected('b', reason)) === before + 1, `counted as ${reason}`, 3_000, 10)
    expect(membership()).toBe(snapshot)
  })
})

describe('garbage, replayed and unauthenticated frames on the inter-hub port', () => {
  const interHubOf = (id: string): string => hub('a').cluster.view().members.find((m) => m.id === id)?.addresses.interHub as string
  const cleanups: Array<() => unknown> = []
  afterAll(async () => { while (cleanups.length) await cleanups.pop()?.() })

  const header = (length: number, version: number, kind: number): Buffer => {
    const b = Buffer.alloc(10)
    b.writeUInt32BE(length, 0)
    b.writeUInt8(version, 4)
    b.writeUInt8(kind, 5)
    return b
  }
  // A hello proving the key for a nonce of an earlier connection: what a captured hello replays.
  const replayedHello = (): Buffer => encodeFrame(FrameKind.hello, 0, { id: 'a0', boot: 'b1', nonce: randomBytes(16), mac: createHmac('sha256', KEY).update(randomBytes(16)).update('a0').digest() })

  it.each([
    ['another frame version', 'version', (): Buffer => Buffer.concat([header(6 + 1, 9, FrameKind.hello), Buffer.from([0xc0])])],
    ['an unknown frame kind', 'unknown-type', (): Buffer => Buffer.concat([header(6 + 1, 1, 0x63), Buffer.from([0xc0])])],
    ['a length shorter than a frame header', 'malformed', (): Buffer => Buffer.from([0, 0, 0, 2, 1, 1])],
    ['a frame claiming 2 GiB', 'too-large', (): Buffer => Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 1])],
    ['a body that is not msgpack', 'malformed', (): Buffer => Buffer.concat([header(6 + 1, 1, FrameKind.hello), Buffer.from([0xc1])])],
    ['a message frame before any hello (unauthenticated)', 'malformed', (): Buffer => encodeFrame(FrameKind.message, 0, [{ t: 'deliver', key: 'devices/x', epoch: 1, seq: 1, topic: 'devices/x/t', payload: Buffer.from('forged'), qos: 1 }])],
    ['a publish request before any hello (unauthenticated)', 'malformed', (): Buffer => encodeFrame(FrameKind.request, 1, { t: 'publish', id: '1', topic: 'devices/x/t', payload: Buffer.from('forged'), qos: 1, retain: false })],
    ['a hello without proof (no key)', 'auth-failed', (): Buffer => encodeFrame(FrameKind.hello, 0, { id: 'a0', boot: 'b1' })],
    ['a replayed hello: a proof for another challenge', 'auth-failed', replayedHello],
    ['random bytes', 'too-large', (): Buffer => Buffer.concat([Buffer.from([0xff]), randomBytes(63)])],
  ])('%s: closed and counted (%s)', async (_name, reason, bytes) => {
    const before = await linkRejected('b', reason)
    const raw = rawLink(interHubOf('b'), cleanups)
    // The accepting hub speaks first (a challenge, with keys); answer it with the bad bytes.
    await waitFor(() => raw.frames.some((f) => f.kind === FrameKind.challenge) || raw.closed(), 'challenge', 3_000, 5)
    raw.socket.write(bytes())
    await waitFor(() => raw.closed(), 'the hub closes the connection', 3_000, 5)
    await waitFor(async () => (await linkRejected('b', reason)) === before + 1, `counted as ${reason}`, 3_000, 10)
    expect(raw.frames.map((f) => f.kind), 'nothing but the challenge').toEqual([FrameKind.challenge])
  })

  it('a hello cut short and then FIN: counted as truncated, never taken as a hello', async () => {
    const before = await linkRejected('b', 'truncated')
    const raw = rawLink(interHubOf('b'), cleanups)
    await waitFor(() => raw.frames.some((f) => f.kind === FrameKind.challenge), 'challenge', 3_000, 5)
    const hello = replayedHello()
    raw.socket.end(hello.subarray(0, hello.length - 3))
    await waitFor(() => raw.closed(), 'closed', 3_000, 5)
    await waitFor(async () => (await linkRejected('b', 'truncated')) === before + 1, 'counted as truncated', 3_000, 10)
    expect(raw.frames.map((f) => f.kind)).toEqual([FrameKind.challenge])
  })

  it('a connection that stops inside its first frame is closed after helloTimeoutMs and counted as idle', async () => {
    // A bare link bus (the hub's uses the 10 s default; here 200 ms).
    const bus = await startBus('z', cleanups, { helloTimeoutMs: 200 })
    const raw = rawLink(bus.address, cleanups)
    const hello = encodeFrame(FrameKind.hello, 0, { id: 'a', boot: 'x' })
    raw.socket.write(hello.subarray(0, 7))
    const started = performance.now()
    await waitFor(() => raw.closed(), 'closed by the hello timeout', 3_000, 5)
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)
    expect(bus.bus.stats.rejected).toEqual({ idle: 1 })
    expect(bus.bus.linkedPeers()).toEqual([])
  })

  it('afterwards the links are the ones the ring made, and a QoS 1 message crosses them', async () => {
    for (const id of IDS) expect(hub(id).cluster.view().members.filter((m) => m.state === 'alive').map((m) => m.id).sort()).toEqual([...IDS])
    expect(await counter(adminOf('b'), 'ringhub_interhub_connections_total', 'event="replaced"')).toBe(0)
    // A key owned by b, published on a, subscribed on c: forwarded a → b, delivered b → c.
    const key = Array.from({ length: 50 }, (_, i) => `devices/rb${i}`).find((k) => hub('a').cluster.ownerOf(`${k}/t`).owner === 'b') as string
    const sub = await connect(`mqtt://127.0.0.1:${hub('c').ports.mqtt}`, { clientId: 'rb-sub' })
    const pub = await connect(`mqtt://127.0.0.1:${hub('a').ports.mqtt}`, { clientId: 'rb-pub' })
    clients.push(sub, pub)
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    await new Promise((r) => setTimeout(r, 300)) // interest reaches the owner
    for (let i = 0; i < 20; i++) await pub.publishAsync(`${key}/t`, `m${i}`, { qos: 1 })
    await waitFor(() => got.length >= 20, '20 messages through the owner', 5_000)
    expect(got.map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`))
    // The forged deliveries and publishes above reached nobody.
    expect(got.some((m) => m.payload === 'forged')).toBe(false)
  })
})
