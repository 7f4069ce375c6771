import { createConnection, createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, TransportError } from '../../hub/src/base/errors.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { TcpPeerBus, type TcpPeerBusOptions } from '../../hub/src/routing/tcp-peer-bus.js'
import { FrameKind, deliver, echo, publish, rawLink, startBus, type TestBus } from '../helpers/peer-bus.js'
import { waitFor } from '../helpers/wait.js'

// Silent links (docs/routing.md): a router connection lost without a reset (a NAT or firewall
// that forgot it, a black-holed path) looks open to TCP for minutes. Hubs that both announce
// beats send one when nothing else went for `beatMs` and close a link nothing came on for
// `silentLinkMs`. Shown over real sockets through a proxy that can swallow everything.
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

/** Fast settings: a beat every 50 ms, a link closed after 300 ms of silence, a handshake given 500 ms. */
const FAST: Partial<TcpPeerBusOptions> = { beatMs: 50, silentLinkMs: 300, helloTimeoutMs: 500 }

/**
 * A TCP proxy to `target` on 127.0.0.1:0. While `holding`, it swallows every byte both ways
 * and every close (connections stay open: nothing is reset, as a black-holed path does), and new
 * connections are accepted and swallowed too.
 */
async function blackHoleProxy(target: string): Promise<{ address: string, hold: () => void, release: () => void, connections: () => number }> {
  let holding = false
  let connections = 0
  const sockets = new Set<Socket>()
  const port = Number(target.slice(target.lastIndexOf(':') + 1))
  const server = createServer((client) => {
    connections++
    const upstream = createConnection(port, '127.0.0.1')
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from)
      from.on('data', (chunk: Buffer) => { if (!holding) to.write(chunk) })
      from.on('error', () => {})
      // A close passes only while not holding: a black hole swallows the FIN too (cleanup destroys the rest).
      from.on('close', () => { sockets.delete(from); if (!holding) to.destroy() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  const address = server.address()
  return {
    address: `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    hold: () => { holding = true },
    release: () => { holding = false },
    connections: () => connections,
  }
}

/** Hub a dials hub b through a proxy (a < b: a dials); both with `extra` settings. */
async function pairThroughProxy(extra: Partial<TcpPeerBusOptions>): Promise<{ a: TestBus, b: TestBus, proxy: Awaited<ReturnType<typeof blackHoleProxy>> }> {
  const b = await startBus('b', cleanups, extra)
  const proxy = await blackHoleProxy(b.address)
  const a = await startBus('a', cleanups, extra)
  a.bus.setPeers(new Map([['b', proxy.address]]))
  b.bus.setPeers(new Map([['a', a.address]]))
  return { a, b, proxy }
}

async function busyFor(ms: number): Promise<void> {
  const end = performance.now() + ms
  while (performance.now() < end) { /* the whole process stalls: both buses of the test */ }
  await Promise.resolve()
}

describe('silent links', () => {
  it('closes a link nothing comes on (a black-holed connection), fails its requests at once, counts it at both ends, and links again once the path is back', async () => {
    const { a, b, proxy } = await pairThroughProxy(FAST)
    echo(b.bus)
    const gotA = echo(a.bus)
    expect(await a.bus.request('b', publish('1'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 1 })
    proxy.hold()
    // A request in flight when the path goes: without the watch it would wait its whole 10 s.
    const failure = a.bus.request('b', publish('2'), 10_000).then(() => undefined, (err: unknown) => err)
    const err = await Promise.race([failure, new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3_000))])
    expect(err).toBeInstanceOf(TransportError)
    expect((err as TransportError).reason).toBe('closed')
    expect((err as Error).message).toMatch(/nothing from b for \d+ ms/)
    expect(a.bus.stats.silent).toBe(1)
    await waitFor(() => b.bus.stats.silent === 1, 'the accepting end closing its side too', 3_000)
    expect(a.bus.linkedPeers()).toEqual([])
    // The dialing end keeps dialing; through the held path no handshake completes.
    await waitFor(() => proxy.connections() >= 2, 'a redial', 3_000)
    proxy.release()
    await waitFor(() => a.bus.linkedPeers().includes('b') && b.bus.linkedPeers().includes('a'), 'the link open again', 10_000)
    expect(await a.bus.request('b', publish('3'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 3 })
    expect(b.bus.send('a', deliver(4))).toBe(true)
    await waitFor(() => gotA.some((m) => m.seq === 4), 'a message on the new link')
    expect(a.bus.stats.linked).toBe(2)
  })

  it('keeps an idle link open: beats go both ways while nothing else does', async () => {
    const { a, b } = await pairThroughProxy(FAST)
    echo(a.bus)
    echo(b.bus)
    await a.bus.request('b', publish('1'), 5_000)
    const framesBefore = [a.bus.stats.framesIn, b.bus.stats.framesIn]
    // Ten times the silence allowed, with nothing to send.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    expect([a.bus.stats.silent, b.bus.stats.silent]).toEqual([0, 0])
    expect([a.bus.stats.linked, b.bus.stats.linked]).toEqual([1, 1])
    // About 60 beats each way in 3 s; at least a third of them, whatever the machine's load.
    expect(a.bus.stats.framesIn - (framesBefore[0] as number)).toBeGreaterThan(20)
    expect(b.bus.stats.framesIn - (framesBefore[1] as number)).toBeGreaterThan(20)
    expect(await a.bus.request('b', publish('2'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 2 })
  })

  it('does not close its links after this process stalled longer than the silence allowed', async () => {
    // Wider than FAST: after a stall the beats need a watch pass and two hops through the proxy.
    const { a, b } = await pairThroughProxy({ beatMs: 100, silentLinkMs: 600, helloTimeoutMs: 500 })
    echo(a.bus)
    echo(b.bus)
    await a.bus.request('b', publish('1'), 5_000)
    for (let i = 0; i < 3; i++) {
      await busyFor(1_000)
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    expect([a.bus.stats.silent, b.bus.stats.silent]).toEqual([0, 0])
    expect([a.bus.stats.linked, b.bus.stats.linked]).toEqual([1, 1])
  })

  it('sends no beats to a hub that announced none (a hub before them), and never closes its link for silence', async () => {
    const b = await startBus('b', cleanups, { beatMs: 0, silentLinkMs: 300 })
    const a = await startBus('a', cleanups, FAST)
    echo(a.bus)
    echo(b.bus)
    a.bus.setPeers(new Map([['b', b.address]]))
    b.bus.setPeers(new Map([['a', a.address]]))
    await a.bus.request('b', publish('1'), 5_000)
    const framesBefore = [a.bus.stats.framesIn, b.bus.stats.framesIn]
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect([a.bus.stats.framesIn, b.bus.stats.framesIn]).toEqual(framesBefore)
    expect([a.bus.stats.silent, b.bus.stats.silent]).toEqual([0, 0])
    expect(await a.bus.request('b', publish('2'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 2 })
  })

  it('refuses a hello with a malformed beat interval (counted, connection closed) and a bus configured with a wrong one', async () => {
    const b = await startBus('b', cleanups, FAST)
    for (const beatMs of ['soon', 0, 1.5, 60_001]) {
      const raw = rawLink(b.address, cleanups)
      raw.send(FrameKind.hello, 0, { id: 'a', boot: 'x', beatMs })
      await waitFor(() => raw.closed(), `the connection with beatMs ${JSON.stringify(beatMs)} closed`)
    }
    expect(b.bus.stats.rejected).toEqual({ malformed: 4 })
    expect(b.bus.linkedPeers()).toEqual([])
    const make = (o: Partial<TcpPeerBusOptions>): TcpPeerBus => new TcpPeerBus({ self: 'x', host: '127.0.0.1', port: 0, clock: systemClock, log: silentLogger(), ...o })
    expect(() => make({ beatMs: -1 })).toThrow(ConfigError)
    expect(() => make({ beatMs: 60_001 })).toThrow(/beatMs: must be an integer from 0 to 60000/)
    expect(() => make({ silentLinkMs: 0 })).toThrow(/silentLinkMs: must be an integer from 1 to 600000/)
  })
})
