import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { DeadlineMap } from '../../hub/src/base/deadline-map.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { waitFor } from '../helpers/wait.js'

/** A map on a virtual clock, and the keys it expired, in order. */
function setup(): { clock: ManualClock, expired: string[], map: DeadlineMap<string, number> } {
  const clock = new ManualClock()
  const expired: string[] = []
  return { clock, expired, map: new DeadlineMap<string, number>(clock, (key) => expired.push(key)) }
}

describe('DeadlineMap (one timer for many deadlines)', () => {
  it('expires each entry 1 ms after its deadline (within one 50 ms pass), and never one taken or cleared', () => {
    const { clock, expired, map } = setup()
    map.set('short', 1, 30)
    map.set('long', 2, 500)
    map.set('taken', 3, 30)
    expect(map.take('taken')).toBe(3)
    clock.advance(30)
    expect(expired, 'at the deadline: due at the next pass').toEqual([])
    clock.advance(1)
    expect(expired).toEqual(['short'])
    expect(map.get('long')).toBe(2)
    clock.advance(468)
    expect(expired).toEqual(['short'])
    clock.advance(50)
    expect(expired).toEqual(['short', 'long'])
    expect(map.size).toBe(0)
    map.set('cleared', 4, 10)
    expect(map.clear()).toEqual([4])
    clock.advance(100)
    expect(expired).toEqual(['short', 'long'])
  })

  it('takes the entries that match, which then never expire', () => {
    const { clock, expired, map } = setup()
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) map.set(k, v, 100)
    expect(map.takeWhere((v) => v % 2 === 1)).toEqual([1, 3])
    expect(map.size).toBe(1)
    clock.advance(101)
    expect(expired).toEqual(['b'])
  })

  it('lets a reply that arrived during a stall be read before its deadline expires it (a real socket, a real stalled event loop)', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
    const accepted = await new Promise<Socket>((resolve) => server.once('connection', resolve))
    await new Promise<void>((resolve) => client.once('connect', () => resolve()))
    try {
      const expired: string[] = []
      const map = new DeadlineMap<string, number>(systemClock, (key) => expired.push(key))
      accepted.on('data', () => { map.take('answered') }) // the reply
      map.set('answered', 1, 20)
      map.set('silent', 2, 20)
      // From a check-phase callback: the reply goes into the kernel, then the loop stalls past the
      // deadline. Next come the timers (the sweep), then the poll phase that reads the reply.
      await new Promise<void>((resolve) => setImmediate(() => {
        client.write('reply')
        const until = performance.now() + 150
        while (performance.now() < until) { /* the process is stalled */ }
        resolve()
      }))
      await waitFor(() => expired.length > 0, 'the silent one expired', 2_000, 5)
      expect(expired).toEqual(['silent'])
      expect(map.size).toBe(0)
    } finally {
      client.destroy()
      accepted.destroy()
      await new Promise((r) => server.close(r))
    }
  })

  it('lets an entry past its deadline be taken before the next pass: after a stall, what arrived meanwhile is read before anything expires', () => {
    const { clock, expired, map } = setup()
    map.set('answered', 1, 2_000)
    map.set('silent', 2, 2_000)
    clock.advanceTo(clock.monotonicMs() + 2_000) // the pass at the deadline marks both due
    expect(expired).toEqual([])
    expect(map.take('answered'), 'its reply, read before the next pass').toBe(1)
    clock.advance(1)
    expect(expired).toEqual(['silent'])
  })
})
