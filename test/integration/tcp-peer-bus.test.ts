import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { TransportError } from '../../hub/src/base/errors.js'
import type { RouterMessage, RouterRequest } from '../../hub/src/routing/messages.js'
import { FrameReader, encodeFrame } from '../../hub/src/routing/link-frames.js'
import { FrameKind, deliver, echo, meshPeers, publish, rawLink, startBus, type TestBus } from '../helpers/peer-bus.js'
import { waitFor } from '../helpers/wait.js'

// The inter-hub link over real sockets: one connection per pair of hubs (the smaller id dials),
// everything from one hub to another in send order on it, a restarted peer's new connection
// replacing the old one, and the gossip-key handshake proving both ends.
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

describe('one inter-hub connection per pair of hubs', () => {
  it('opens exactly one connection per pair when every hub starts and sends at once', async () => {
    const buses = await Promise.all(['c', 'a', 'b'].map((id) => startBus(id, cleanups)))
    const got = buses.map((b) => echo(b.bus))
    meshPeers(buses)
    // Both ends of every pair send at once: the accepting end's frames wait for the dialer.
    const replies = buses.flatMap((from) => buses.filter((to) => to !== from).map((to, i) => {
      expect(from.bus.send(to.bus.self, deliver(i))).toBe(true)
      return from.bus.request(to.bus.self, publish(String(i)), 5_000)
    }))
    await Promise.all(replies)
    await waitFor(() => got.every((g) => g.length === 2), 'every message')
    const stat = (id: string): TestBus['bus']['stats'] => (buses.find((b) => b.bus.self === id) as TestBus).bus.stats
    // a dials b and c; b dials c; c dials nobody.
    expect([stat('a').dialed, stat('b').dialed, stat('c').dialed]).toEqual([2, 1, 0])
    expect([stat('a').accepted, stat('b').accepted, stat('c').accepted]).toEqual([0, 1, 2])
    expect(buses.map((b) => b.bus.stats.linked)).toEqual([2, 2, 2])
    expect(buses.map((b) => b.bus.stats.replaced + b.bus.stats.dropped + Object.keys(b.bus.stats.rejected).length)).toEqual([0, 0, 0])
    for (const b of buses) expect(b.bus.linkedPeers().sort()).toEqual(['a', 'b', 'c'].filter((id) => id !== b.bus.self))
  })

  it('carries messages and replies from one hub to the other in send order, both ways at once', async () => {
    const pair = [await startBus('a', cleanups), await startBus('b', cleanups)] as const
    meshPeers(pair)
    const N = 300
    // Each hub numbers everything it sends to the other (messages and replies) in one sequence.
    const side = pair.map(({ bus }) => {
      let next = 0
      const sentMessages: number[] = []
      const received: number[] = []
      const checks: Array<{ replySeq: number, messagesSeen: number }> = []
      const other = bus.self === 'a' ? 'b' : 'a'
      const sendMessage = (): void => { sentMessages.push(next); expect(bus.send(other, deliver(next++))).toBe(true) }
      bus.onMessage((_from, m) => { if (m.t === 'deliver') received.push(m.seq) })
      bus.onRequest(async (_from, r) => {
        sendMessage()
        if (r.t === 'publish' && Number(r.id) % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
        if (r.t === 'publish' && Number(r.id) % 5 === 0) sendMessage()
        return { t: 'published', epoch: 1, seq: next++ }
      })
      return { bus, other, sentMessages, received, checks, sendMessage }
    })
    const run = async (s: typeof side[number]): Promise<void> => {
      const waits: Array<Promise<unknown>> = []
      for (let i = 0; i < N; i++) {
        if (i % 2 === 0) s.sendMessage()
        waits.push(s.bus.request(s.other, publish(String(i)), 5_000).then((reply) => {
          // Under FIFO every message the peer sent before this reply has arrived already.
          if (reply.t === 'published') s.checks.push({ replySeq: reply.seq, messagesSeen: s.received.length })
        }))
        if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      await Promise.all(waits)
    }
    const [a, b] = side as [typeof side[number], typeof side[number]]
    await Promise.all([run(a), run(b)])
    await waitFor(() => a.received.length === b.sentMessages.length && b.received.length === a.sentMessages.length, 'every message')
    for (const [me, peer] of [[a, b], [b, a]] as const) {
      expect(me.received).toEqual(peer.sentMessages)
      expect(me.checks).toHaveLength(N)
      for (const { replySeq, messagesSeen } of me.checks) {
        expect(messagesSeen).toBeGreaterThanOrEqual(peer.sentMessages.filter((seq) => seq < replySeq).length)
      }
    }
    expect(a.bus.stats.dialed + b.bus.stats.dialed).toBe(1)
  })

  it('drops a message of a type it does not know (a newer hub\'s) and answers such a request with an error, counted, keeping the link', async () => {
    const [a, b] = [await startBus('a', cleanups), await startBus('b', cleanups)]
    meshPeers([a, b])
    const got = echo(b.bus)
    echo(a.bus)
    expect(a.bus.send('b', deliver(1))).toBe(true)
    await waitFor(() => got.length === 1, 'the first delivery', 5_000, 5)
    const linked = b.bus.stats.linked + b.bus.stats.accepted
    // Types a later version may add: not in this version's RouterMessage / RouterRequest.
    expect(a.bus.send('b', { t: 'sent-heads', heads: [['devices/d1', 1, 1]] } as unknown as RouterMessage)).toBe(true)
    expect(a.bus.send('b', deliver(2))).toBe(true)
    await waitFor(() => got.length === 2, 'the delivery after it', 5_000, 5)
    await expect(a.bus.request('b', { t: 'from-the-future' } as unknown as RouterRequest, 2_000)).rejects.toThrow(/does not know/)
    expect(await a.bus.request('b', publish('7'), 2_000)).toMatchObject({ t: 'published', seq: 7 })
    expect(b.bus.stats.unknownTypes).toBe(2)
    expect(b.bus.stats.rejected, 'not bad input').toEqual({})
    expect(b.bus.stats.linked + b.bus.stats.accepted, 'the same connection throughout').toBe(linked)
    expect(got.map((g) => g.seq)).toEqual([1, 2])
  })

  it('sends the deliveries queued in a row in one frame, in order with the messages between them', async () => {
    const pair = [await startBus('a', cleanups), await startBus('b', cleanups)] as const
    meshPeers(pair)
    const [a, b] = [pair[0].bus, pair[1].bus]
    echo(b)
    await a.request('b', publish('1'), 5_000) // the link is open
    const seen: string[] = []
    b.onMessage((_from, m) => { seen.push(m.t === 'deliver' ? `d${m.seq}` : m.t) })
    const framesBefore = b.stats.framesIn
    for (const m of [deliver(0), deliver(1), deliver(2), { t: 'barrier' as const, id: 1 }, deliver(3), deliver(4)]) expect(a.send('b', m)).toBe(true)
    await waitFor(() => seen.length === 6, 'six messages')
    expect(seen).toEqual(['d0', 'd1', 'd2', 'barrier', 'd3', 'd4'])
    expect(b.stats.framesIn - framesBefore).toBe(3)
  })

  it('replaces a half-open connection when the peer connects again with a new boot', async () => {
    const b = await startBus('b', cleanups)
    const got = echo(b.bus)
    // The old run of hub a: its link is up, and then it hangs (it never answers again).
    const old = rawLink(b.address, cleanups)
    old.send(FrameKind.hello, 0, { id: 'a', boot: 'old-boot' })
    await waitFor(() => old.frames.some((f) => f.kind === FrameKind.welcome), 'welcome to the old run')
    expect(b.bus.send('a', deliver(1))).toBe(true)
    await waitFor(() => old.frames.some((f) => f.kind === FrameKind.message), 'a message on the old connection')
    const stuck = b.bus.request('a', publish('1'), 5_000)
    const failure = stuck.then(() => undefined, (err: unknown) => err)
    // The new run of a dials b (a < b).
    const a = await startBus('a', cleanups)
    const gotA = echo(a.bus)
    a.bus.setPeers(new Map([['b', b.address]]))
    await waitFor(() => old.closed(), 'the old connection closed')
    const err = await failure
    expect(err).toBeInstanceOf(TransportError)
    expect((err as TransportError).reason).toBe('closed')
    expect(b.bus.stats.replaced).toBe(1)
    expect(b.bus.send('a', deliver(2))).toBe(true)
    await waitFor(() => gotA.some((m) => m.seq === 2), 'a message on the new connection')
    expect(await b.bus.request('a', publish('7'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 7 })
    expect(await a.bus.request('b', publish('8'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 8 })
    expect(got).toEqual([])
    expect(b.bus.linkedPeers()).toEqual(['a'])
  })

  it('says whether a link that opens is to the same run of the peer as its last link (a broken connection that came back) or not, and which run', async () => {
    const b = await startBus('b', cleanups)
    echo(b.bus)
    const opened: Array<[string, boolean, string]> = []
    b.bus.onLinkOpen((peer, again, boot) => opened.push([peer, again, boot]))
    const link = async (boot: string): Promise<void> => {
      const raw = rawLink(b.address, cleanups)
      raw.send(FrameKind.hello, 0, { id: 'a', boot })
      await waitFor(() => raw.frames.some((f) => f.kind === FrameKind.welcome), `welcome to ${boot}`)
      raw.socket.destroy()
      await waitFor(() => b.bus.linkedPeers().length === 0, 'the link closed')
    }
    await link('run-1')
    await link('run-1') // the connection broke and the same run dialed again
    await link('run-2') // a restart
    expect(opened).toEqual([['a', false, 'run-1'], ['a', true, 'run-1'], ['a', false, 'run-2']])
  })

  it('says the same at the dialing end: again after its connection was killed and redialed, not for a restarted peer', async () => {
    const a = await startBus('a', cleanups)
    const b1 = await startBus('b', cleanups)
    echo(a.bus)
    echo(b1.bus)
    const opened: boolean[] = []
    a.bus.onLinkOpen((peer, again) => { if (peer === 'b') opened.push(again) })
    meshPeers([a, b1])
    await a.bus.request('b', publish('1'), 5_000)
    // The kernel aborts the connection (a reset): a dials the same run of b again.
    const port = b1.address.slice(b1.address.lastIndexOf(':') + 1)
    await promisify(execFile)('ss', ['-K', '-t', 'state', 'established', `( dport = :${port} )`])
    await waitFor(() => opened.length === 2, 'linked again')
    await b1.bus.close()
    const b2 = await startBus('b', cleanups)
    echo(b2.bus)
    b2.bus.setPeers(new Map([['a', a.address]]))
    a.bus.setPeers(new Map([['b', b2.address]]))
    // (A request may still meet the closing link to the old run: tried until one goes through.)
    await waitFor(() => a.bus.request('b', publish('2'), 5_000).then(() => true, () => false), 'a request to the new run of b')
    expect(opened).toEqual([false, true, false])
  })

  it('dials a restarted peer at its new address at once and links again', async () => {
    const a = await startBus('a', cleanups)
    const b1 = await startBus('b', cleanups)
    echo(a.bus)
    echo(b1.bus)
    meshPeers([a, b1])
    await a.bus.request('b', publish('1'), 5_000)
    await b1.bus.close()
    const b2 = await startBus('b', cleanups)
    echo(b2.bus)
    b2.bus.setPeers(new Map([['a', a.address]]))
    a.bus.setPeers(new Map([['b', b2.address]]))
    expect(await b2.bus.request('a', publish('2'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 2 })
    expect(await a.bus.request('b', publish('3'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 3 })
    expect(b2.bus.stats.accepted).toBe(1)
    expect(b2.bus.linkedPeers()).toEqual(['a'])
  })

  it('refuses a connection from a hub that should have waited to be dialed (the larger id)', async () => {
    const b = await startBus('b', cleanups)
    const raw = rawLink(b.address, cleanups)
    raw.send(FrameKind.hello, 0, { id: 'c', boot: 'x' })
    await waitFor(() => raw.closed(), 'closed')
    expect(b.bus.stats.rejected['wrong-dialer']).toBe(1)
    expect(b.bus.linkedPeers()).toEqual([])
  })

  it('fails requests to a peer that never dials after dialWaitMs, and fails fast after its connection closed', async () => {
    const b = await startBus('b', cleanups, { dialWaitMs: 100 })
    b.bus.setPeers(new Map([['a', '127.0.0.1:1']]))
    const err = await b.bus.request('a', publish('1'), 5_000).catch((e: unknown) => e)
    expect((err as TransportError).reason).toBe('unreachable')
    expect(b.bus.send('a', deliver(1))).toBe(false)
    const raw = rawLink(b.address, cleanups)
    raw.send(FrameKind.hello, 0, { id: 'a', boot: 'x' })
    await waitFor(() => b.bus.linkedPeers().length === 1, 'linked')
    expect(b.bus.send('a', deliver(2))).toBe(true)
    raw.socket.destroy()
    await waitFor(() => b.bus.linkedPeers().length === 0, 'unlinked')
    expect(b.bus.send('a', deliver(3))).toBe(false)
  })
})

describe('the link handshake with gossip keys, in both roles', () => {
  const KEY = randomBytes(32)
  const keys = (...k: Buffer[]) => ({ authKeys: () => k })

  it('links hubs that hold the keys, both ways, also mid-rotation (each primary installed at the other)', async () => {
    const next = randomBytes(32)
    const pair = [await startBus('a', cleanups, keys(KEY, next)), await startBus('b', cleanups, keys(next, KEY))]
    pair.forEach((p) => echo(p.bus))
    meshPeers(pair)
    expect(await pair[1]?.bus.request('a', publish('1'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 1 })
    expect(await pair[0]?.bus.request('b', publish('2'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 2 })
  })

  it('refuses a dialing hub with another key (at the acceptor) and an accepting hub with another key (at the dialer)', async () => {
    const b = await startBus('b', cleanups, keys(KEY))
    echo(b.bus)
    const intruder = await startBus('a', cleanups, keys(randomBytes(32)))
    intruder.bus.setPeers(new Map([['b', b.address]]))
    expect((await intruder.bus.request('b', publish('1'), 5_000).catch((e: unknown) => e) as TransportError).reason).toBe('unreachable')
    expect(b.bus.stats.rejected['auth-failed']).toBe(1)

    // An acceptor that takes any hello but cannot prove the key in its welcome.
    const impostor = createServer((socket: Socket) => {
      const reader = new FrameReader(1 << 20)
      socket.on('error', () => {})
      socket.write(encodeFrame(FrameKind.challenge, 0, { nonce: randomBytes(16) }))
      socket.on('data', (chunk: Buffer) => {
        for (const f of reader.push(chunk)) if (f.kind === FrameKind.hello) socket.write(encodeFrame(FrameKind.welcome, 0, { id: 'z', boot: 'x', mac: randomBytes(32) }))
      })
    })
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => impostor.close(resolve)))
    const port = (impostor.address() as { port: number }).port
    const a = await startBus('a', cleanups, keys(KEY))
    a.bus.setPeers(new Map([['z', `127.0.0.1:${port}`]]))
    expect((await a.bus.request('z', publish('1'), 5_000).catch((e: unknown) => e) as TransportError).reason).toBe('unreachable')
    expect(a.bus.stats.rejected['auth-failed']).toBeGreaterThanOrEqual(1)
    expect(a.bus.linkedPeers()).toEqual([])
  })
})
