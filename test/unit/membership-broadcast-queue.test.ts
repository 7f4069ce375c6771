import { describe, expect, it } from 'vitest'
import { BroadcastQueue, retransmitLimit, type BroadcastEnd } from '../../hub/src/membership/broadcast-queue.js'

/** A message of `size` bytes whose first byte names it, so tests can read the order back. */
function msg(name: string, size = 10): Uint8Array {
  const bytes = new Uint8Array(size)
  bytes[0] = name.charCodeAt(0)
  return bytes
}

const names = (messages: Uint8Array[]) => messages.map((m) => String.fromCharCode(m[0] as number)).join('')

function queue(n = 10, retransmitMult = 1, maxQueued?: number) {
  const ends: [string, BroadcastEnd][] = []
  const q = new BroadcastQueue({ retransmitMult, numMembers: () => n, ...(maxQueued === undefined ? {} : { maxQueued }) })
  const add = (key: string, size = 10) => q.enqueue(key, msg(key, size), (end) => ends.push([key, end]))
  return { q, add, ends }
}

describe('retransmitLimit', () => {
  // memberlist util_test.go TestRetransmitLimit, then the profiles' multiplier 4.
  it.each([
    [3, 0, 0],
    [3, 1, 3],
    [3, 9, 3],
    [3, 10, 6],
    [3, 99, 6],
    [3, 100, 9],
    [4, 3, 4],
    [4, 10, 8],
    [4, 100, 12],
    [4, 1000, 16],
  ])('mult=%i n=%i → %i', (mult, n, limit) => {
    expect(retransmitLimit(mult, n)).toBe(limit)
  })
})

describe('BroadcastQueue', () => {
  it('sends each broadcast retransmitLimit times, then finishes it as sent', () => {
    const { q, add, ends } = queue(10, 1) // limit 1 × ceil(log10 11) = 2
    add('a')
    expect(names(q.getBroadcasts(0, 100))).toBe('a')
    expect(q.size).toBe(1)
    expect(names(q.getBroadcasts(0, 100))).toBe('a')
    expect(q.size).toBe(0)
    expect(q.getBroadcasts(0, 100)).toEqual([])
    expect(ends).toEqual([['a', 'sent']])
  })

  it('sends a broadcast at least once even when the limit is 0 (n = 0)', () => {
    const { q, add, ends } = queue(0, 3)
    add('a')
    expect(names(q.getBroadcasts(0, 100))).toBe('a')
    expect(ends).toEqual([['a', 'sent']])
  })

  it('reads the ring size on every call', () => {
    let n = 1
    const q = new BroadcastQueue({ retransmitMult: 1, numMembers: () => n })
    q.enqueue('a', msg('a'))
    q.getBroadcasts(0, 100) // n = 1: limit 1 × ceil(log10 2) = 1, so one send finishes it
    expect(q.size).toBe(0)
    n = 10
    q.enqueue('b', msg('b'))
    q.getBroadcasts(0, 100) // n = 10: limit 2
    expect(q.size).toBe(1)
  })

  it('orders by fewest transmits, then newest', () => {
    const { q, add } = queue(1000, 4) // limit 16
    add('a')
    add('b')
    expect(names(q.getBroadcasts(0, 10))).toBe('b') // room for one: the newest
    add('c')
    // a: 0 transmits, b: 1, c: 0 → c (newest of tier 0), a, then b
    expect(names(q.getBroadcasts(0, 1000))).toBe('cab')
    add('d')
    // d: 0, then c and a at 1 (newest first), then b at 2; the next round keeps that order
    expect(names(q.getBroadcasts(0, 1000))).toBe('dcab')
    expect(names(q.getBroadcasts(0, 1000))).toBe('dcab')
  })

  it('respects the byte budget with per-message overhead, skipping to smaller messages', () => {
    const { q, add } = queue(1000, 4)
    add('s', 10)
    add('b', 60)
    add('m', 30)
    // budget 100, overhead 5: m (35) fits, b (65) fits → 100, s (15) does not
    expect(names(q.getBroadcasts(5, 100))).toBe('mb')
    // s has the fewest transmits now (15); then m, the newer of tier 1, fills the rest; b does not fit
    expect(names(q.getBroadcasts(5, 50))).toBe('sm')
  })

  it('takes nothing when the overhead alone fills the budget', () => {
    const { q, add } = queue()
    add('a', 1)
    expect(q.getBroadcasts(10, 10)).toEqual([])
    expect(q.size).toBe(1)
  })

  it.each([
    ['exact fit', 3, 30, 'a'],
    ['one byte short', 3, 29, ''],
  ])('%s: message 27 + overhead %i in %i bytes → %s', (_label, overhead, limit, expected) => {
    const { q, add } = queue()
    add('a', 27)
    expect(names(q.getBroadcasts(overhead, limit))).toBe(expected)
  })

  it('a newer broadcast about the same member invalidates the older one', () => {
    const { q, ends } = queue(1000, 4)
    q.enqueue('m1', msg('x'), (end) => ends.push(['x', end]))
    q.getBroadcasts(0, 100)
    q.enqueue('m1', msg('y'), (end) => ends.push(['y', end]))
    expect(q.size).toBe(1)
    expect(ends).toEqual([['x', 'invalidated']])
    expect(names(q.getBroadcasts(0, 100))).toBe('y')
    expect(q.has('m1')).toBe(true)
  })

  it('is bounded: beyond maxQueued the most-sent, then oldest, broadcast is dropped and counted', () => {
    const { q, add, ends } = queue(1000, 4, 3)
    add('a')
    add('b')
    q.getBroadcasts(0, 10) // b sent once
    add('c')
    add('d') // 4 > 3: b (1 transmit) goes
    expect(q.droppedTotal).toBe(1)
    add('e') // a, c, d all at 0 transmits: a is the oldest
    expect(q.droppedTotal).toBe(2)
    expect(ends).toEqual([['b', 'dropped'], ['a', 'dropped']])
    expect(names(q.getBroadcasts(0, 1000))).toBe('edc')
    expect(q.size).toBe(3)
  })

  it('clear finishes everything as cleared', () => {
    const { q, add, ends } = queue()
    add('a')
    add('b')
    q.clear()
    expect(q.size).toBe(0)
    expect(ends).toEqual([['a', 'cleared'], ['b', 'cleared']])
  })

  it.each([0, -1, 2.5])('refuses maxQueued %s', (maxQueued) => {
    expect(() => new BroadcastQueue({ retransmitMult: 4, numMembers: () => 3, maxQueued })).toThrow(RangeError)
  })
})
