import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { ForwardOrder, type ForwardTicket } from '../../hub/src/routing/forward-order.js'

/** Publishes entered so far (`ForwardTicket.n`). */
let entered = 0

// The per-key order of forwarded publishes at an ingress hub (router-forward-order.test.ts shows
// it through routers and an owner crash).
function setup(): { clock: ManualClock, order: ForwardOrder, owner: { of: string }, went: string[], go: (t: ForwardTicket, name: string) => Promise<void> } {
  const clock = new ManualClock()
  const owner = { of: 'B' }
  const order = new ForwardOrder({ clock, ownerOf: () => owner.of, minDelayMs: 25, maxDelayMs: 1_000 })
  const went: string[] = []
  // One attempt: wait for the turn, then "send" to the current owner (as the router does).
  const go = async (t: ForwardTicket, name: string): Promise<void> => {
    const turn = order.ready(t)
    if (turn) await turn
    went.push(`${name}→${owner.of}`)
    order.sent(t, owner.of)
  }
  return { clock, order, owner, went, go }
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('ForwardOrder', () => {
  it('names the first publish of a key not finished yet (what an owner waiting for an earlier one may stop waiting for)', () => {
    const { clock, order } = setup()
    const [a, b, c] = [11, 12, 13].map((n) => order.enter('k', clock.now() + 10_000, n)) as [ForwardTicket, ForwardTicket, ForwardTicket]
    const other = order.enter('other-key', clock.now() + 10_000, 14)
    expect([order.firstOf(a), order.firstOf(c), order.firstOf(other)]).toEqual([11, 11, 14])
    order.done(b, true) // finished out of order: a still is not
    expect(order.firstOf(c)).toBe(11)
    order.done(a, false) // given up
    expect(order.firstOf(c)).toBe(13)
    order.done(c, true)
    expect(order.firstOf(c), 'a finished ticket names itself').toBe(13)
  })

  it('lets every publish go at once in a stable ring', () => {
    const { clock, order } = setup()
    const a = order.enter('k', clock.now() + 10_000, ++entered)
    expect(order.ready(a)).toBeUndefined()
    order.sent(a, 'B')
    const b = order.enter('k', clock.now() + 10_000, ++entered)
    expect(order.ready(b)).toBeUndefined()
  })

  it('holds the later publishes of a key behind a failed one, and sends them again in arrival order', async () => {
    const { clock, order, owner, went, go } = setup()
    const [a, b, c] = ['a', 'b', 'c'].map(() => order.enter('k', clock.now() + 10_000, ++entered)) as [ForwardTicket, ForwardTicket, ForwardTicket]
    await go(a, 'a'); await go(b, 'b')
    // The owner dies: a and b fail (b first, as a timeout can make it); c arrives meanwhile.
    expect(order.failed(b)).toBe(true)
    expect(order.failed(a)).toBe(true)
    const attempts = [go(b, 'b'), go(c, 'c'), go(a, 'a')]
    const other = order.enter('other-key', clock.now() + 10_000, ++entered)
    expect(order.ready(other), 'another key does not wait').toBeUndefined()
    clock.advance(24); await settle()
    expect(went).toEqual(['a→B', 'b→B'])
    owner.of = 'C'
    clock.advance(1); await Promise.all(attempts)
    expect(went.slice(2)).toEqual(['a→C', 'b→C', 'c→C'])
  })

  it('waits for an earlier publish still on its way to the previous owner', async () => {
    const { clock, order, owner, went, go } = setup()
    const a = order.enter('k', clock.now() + 10_000, ++entered)
    await go(a, 'a')
    owner.of = 'C' // the ring changed while a is on its way to B
    const b = order.enter('k', clock.now() + 10_000, ++entered)
    const bGoes = go(b, 'b')
    await settle()
    expect(went).toEqual(['a→B'])
    order.done(a, true) // B numbered it after all
    await bGoes
    expect(went).toEqual(['a→B', 'b→C'])
  })

  it('ends the backoff when the ring changes', async () => {
    const { clock, order, owner, went, go } = setup()
    const a = order.enter('k', clock.now() + 10_000, ++entered)
    await go(a, 'a')
    for (let i = 0; i < 5; i++) order.failed(a) // backoff grown; the timer runs 25 ms
    const again = go(a, 'a')
    owner.of = 'C'
    order.ringChanged()
    await again
    expect(went).toEqual(['a→B', 'a→C'])
  })

  it('backs off from the shortest delay again after a ring change, as the new owner may not know yet', async () => {
    const { clock, order, owner, went, go } = setup()
    const a = order.enter('k', clock.now() + 10_000, ++entered)
    await go(a, 'a')
    // The owner B is dead: attempts fail for a while and the backoff grows (25, 50, … 400 ms).
    for (const wait of [25, 50, 100, 200, 400]) {
      order.failed(a)
      const again = go(a, 'a')
      clock.advance(wait); await again
    }
    expect(went).toHaveLength(6)
    // This hub sees B dead; C, the new owner, has not yet and refuses the first attempt.
    owner.of = 'C'
    order.ringChanged()
    order.failed(a)
    const retry = go(a, 'a')
    clock.advance(24); await settle()
    expect(went, 'still backing off').toHaveLength(6)
    clock.advance(1); await settle()
    expect(went.at(-1), 'retried after 25 ms, not the grown 800 ms').toBe('a→C')
    await retry
  })

  it('gives up when the backoff would end after the deadline, and fails waiting publishes on close', async () => {
    const { clock, order, go } = setup()
    const a = order.enter('k', clock.now() + 10, ++entered) // the first backoff (25 ms) ends after it
    await go(a, 'a')
    expect(order.failed(a)).toBe(false)
    const b = order.enter('k', Number.MAX_SAFE_INTEGER, ++entered)
    const waiting = order.ready(b)
    order.close()
    await expect(waiting).rejects.toThrow(/stopped/)
    await expect(order.ready(order.enter('k2', Number.MAX_SAFE_INTEGER, ++entered)) ?? Promise.resolve()).rejects.toThrow(/stopped/)
  })

  it('leaves the time this process did not run out of a publish\'s deadline: one forwarded before a 15 s pause may still be retried after it', () => {
    const clock = new ManualClock()
    let paused = 0
    const order = new ForwardOrder({ clock, pausedMs: () => paused, ownerOf: () => 'B', minDelayMs: 25, maxDelayMs: 1_000 })
    const plain = new ForwardOrder({ clock, ownerOf: () => 'B', minDelayMs: 25, maxDelayMs: 1_000 })
    const t = order.enter('k', order.now() + 10_000, 1)
    const u = plain.enter('k', plain.now() + 10_000, 2)
    order.sent(t, 'B')
    plain.sent(u, 'B')
    clock.advance(15_000) // stopped: the forward's connection closed meanwhile
    paused = 14_900
    expect(order.failed(t), 'retried: 100 ms of its 10 s ran').toBe(true)
    expect(plain.failed(u), 'without the pause left out: given up').toBe(false)
  })
})
