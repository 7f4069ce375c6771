import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { seededRng } from '../../hub/src/base/rng.js'
import { TransportError } from '../../hub/src/base/errors.js'
import { MemoryNetwork } from '../../hub/src/transport/memory-network.js'

const SEED = 42

function setup(defaults = {}) {
  const clock = new ManualClock()
  const net = new MemoryNetwork({ clock, rng: seededRng(SEED), defaults })
  const a = net.transport('a:1')
  const b = net.transport('b:1')
  const got: Array<{ from: string, data: string, atMs: number }> = []
  b.onPacket((from, data) => got.push({ from, data: Buffer.from(data).toString(), atMs: clock.now() }))
  return { clock, net, a, b, got }
}

/** Lets promise callbacks run, then moves virtual time. */
async function settle(clock: ManualClock, ms = 0): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
  clock.advance(ms)
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

describe(`MemoryNetwork (seed ${SEED})`, () => {
  it('delivers a datagram after the link delay, not before', () => {
    const { clock, a, got } = setup({ delayMs: 30 })
    const start = clock.now()
    a.sendPacket('b:1', Buffer.from('hi'))
    clock.advance(29)
    expect(got).toEqual([])
    clock.advance(1)
    expect(got).toEqual([{ from: 'a:1', data: 'hi', atMs: start + 30 }])
  })

  it('loses about lossRate of datagrams, reproducibly for a seed', () => {
    const run = (): number => {
      const { clock, a, got } = setup({ lossRate: 0.1 })
      for (let i = 0; i < 10_000; i++) a.sendPacket('b:1', Buffer.from('x'))
      clock.advance(1)
      return got.length
    }
    const first = run()
    expect(first).toBe(run())
    expect(first).toBeGreaterThan(8_800)
    expect(first).toBeLessThan(9_200)
  })

  it('never loses a request to lossRate, but delays some by TCP retransmission timeouts', async () => {
    const tookMs = async (lossRate: number): Promise<number[]> => {
      const { clock, a, b } = setup({ lossRate, delayMs: 1 })
      b.onRequest(async (_from, data) => data)
      const took: number[] = []
      const start = clock.now()
      const pending = Array.from({ length: 200 }, () => a.request('b:1', Buffer.from('q'), 60_000).then(() => took.push(clock.now() - start)))
      for (let t = 0; t < 20_000 && took.length < 200; t += 5) await settle(clock, 5)
      await Promise.all(pending)
      return took
    }
    const clean = await tookMs(0)
    expect(Math.max(...clean)).toBeLessThanOrEqual(10) // the 2 ms round trip, in 5 ms steps
    const lossy = await tookMs(0.1)
    expect(lossy).toHaveLength(200)
    // 4 segments each lost with p = 0.1: about a third of the requests wait; a lost SYN or
    // SYN-ACK costs 1 s, a lost request or response 200 ms.
    const delayed = lossy.filter((ms) => ms >= 200).length
    expect(delayed).toBeGreaterThan(40)
    expect(delayed).toBeLessThan(110)
    expect(lossy.filter((ms) => ms >= 1_000).length).toBeGreaterThan(10)
  })

  it('blocks datagrams but not requests on a link with udpBlocked', async () => {
    const { clock, net, a, b, got } = setup()
    net.setLink('a:1', 'b:1', { udpBlocked: true })
    b.onRequest(async () => Buffer.from('pong'))
    a.sendPacket('b:1', Buffer.from('lost'))
    const answer = a.request('b:1', Buffer.from('ping'), 1_000)
    await settle(clock, 1)
    await settle(clock, 1)
    expect(Buffer.from(await answer).toString()).toBe('pong')
    expect(got).toEqual([])
  })

  it('duplicates and reorders with jitter', () => {
    const { clock, a, got } = setup({ duplicateRate: 1, jitterMs: 50 })
    for (let i = 0; i < 20; i++) a.sendPacket('b:1', Buffer.from(String(i)))
    clock.advance(100)
    expect(got).toHaveLength(40)
    const order = got.map((g) => Number(g.data))
    expect(order).not.toEqual([...order].sort((x, y) => x - y))
  })

  it('drops datagrams larger than maxPacketBytes and across a partition, both ways', () => {
    const { clock, net, a, b, got } = setup()
    const back: string[] = []
    a.onPacket((_f, d) => back.push(Buffer.from(d).toString()))
    a.sendPacket('b:1', Buffer.alloc(1401))
    net.partition(['a:1'], ['b:1'])
    a.sendPacket('b:1', Buffer.from('cut'))
    b.sendPacket('a:1', Buffer.from('cut'))
    clock.advance(1)
    expect(got).toEqual([])
    expect(back).toEqual([])
    expect(net.stats('a:1').packetsDropped).toBe(2)
    net.heal()
    a.sendPacket('b:1', Buffer.from('healed'))
    clock.advance(1)
    expect(got.map((g) => g.data)).toEqual(['healed'])
  })

  it('holds what reaches a paused endpoint until it resumes; a paused endpoint sends nothing', () => {
    const { clock, net, a, b, got } = setup()
    const back: string[] = []
    a.onPacket((_f, d) => back.push(Buffer.from(d).toString()))
    net.pause('b:1')
    a.sendPacket('b:1', Buffer.from('while paused'))
    b.sendPacket('a:1', Buffer.from('from paused'))
    clock.advance(1000)
    expect(got).toEqual([])
    net.resume('b:1')
    expect(got.map((g) => g.data)).toEqual(['while paused'])
    clock.advance(1)
    expect(back).toEqual([])
  })

  it('answers requests, refuses them at a crashed endpoint, times them out across a cut', async () => {
    const { clock, net, a, b } = setup({ delayMs: 5 })
    b.onRequest(async (from, data) => Buffer.from(`${from} said ${Buffer.from(data).toString()}`))
    const answered = a.request('b:1', Buffer.from('hello'), 1000)
    await settle(clock, 5)
    await settle(clock, 5)
    expect(Buffer.from(await answered).toString()).toBe('a:1 said hello')

    net.partition(['a:1'], ['b:1'])
    const cut = a.request('b:1', Buffer.from('x'), 200)
    await settle(clock, 200)
    await expect(cut).rejects.toMatchObject({ reason: 'timeout' })
    net.heal()

    net.crash('b:1')
    const refused = a.request('b:1', Buffer.from('x'), 1000)
    await settle(clock, 5)
    await settle(clock, 5)
    await expect(refused).rejects.toBeInstanceOf(TransportError)
    await expect(refused).rejects.toMatchObject({ reason: 'refused' })
  })
})
