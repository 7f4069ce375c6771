import { describe, expect, it } from 'vitest'
import { History, parseId } from '../faults/history.js'

// The fault suite's checker (test/faults/history.ts) on hand-made histories: each fault it must
// report is planted once, and a clean history must come out clean.

/** k1 sends 1..3 and k2 sends 1..2 from one client, all acknowledged, at 10 ms steps. */
function base(): History {
  const h = new History()
  let t = 0
  for (const id of ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3']) {
    h.attempt(id, 'pub-a', t)
    h.ack(id, t + 5)
    t += 10
  }
  return h
}

function deliverAll(h: History, subscriber: string, ids: readonly string[]): void {
  ids.forEach((id, i) => h.deliver(subscriber, id, 100 + i))
}

describe('fault history checker', () => {
  it('reports nothing for a clean history, whatever the interleaving of keys', () => {
    const h = base()
    deliverAll(h, 's1', ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3'])
    deliverAll(h, 's2', ['k2:1', 'k2:2', 'k1:1', 'k1:2', 'k1:3'])
    const c = h.check()
    expect(c).toMatchObject({ attempted: 5, acked: 5, unacked: 0, lost: 0, phantoms: 0, duplicates: 0, reorders: 0 })
    expect(c.explain).toEqual([])
    expect(h.complete()).toBe(true)
  })

  it.each([
    { fault: 'an acknowledged message missing at one subscriber', s2: ['k1:1', 'k2:1', 'k2:2', 'k1:3'], want: { lost: 1 } },
    { fault: 'a message nobody sent', s2: ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3', 'k3:1'], want: { phantoms: 1 } },
    { fault: 'a payload that is no id at all', s2: ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3', 'garbage'], want: { phantoms: 1 } },
    { fault: 'a message delivered twice', s2: ['k1:1', 'k2:1', 'k1:2', 'k1:2', 'k2:2', 'k1:3'], want: { duplicates: 1 } },
    { fault: 'two messages of a key swapped', s2: ['k1:2', 'k1:1', 'k2:1', 'k2:2', 'k1:3'], want: { reorders: 1 } },
    { fault: 'a late first delivery of an old message after a repeat', s2: ['k1:1', 'k1:3', 'k1:3', 'k1:2', 'k2:1', 'k2:2'], want: { duplicates: 1, reorders: 1 } },
  ])('flags $fault', ({ s2, want }) => {
    const h = base()
    deliverAll(h, 's1', ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3'])
    deliverAll(h, 's2', s2)
    const c = h.check()
    expect(c).toMatchObject({ lost: 0, phantoms: 0, duplicates: 0, reorders: 0, ...want })
    expect(c.subscribers.get('s1')).toMatchObject({ lost: 0, phantoms: 0, duplicates: 0, reorders: 0 })
    // Duplicates are allowed (QoS 1) and not explained; the others are.
    expect(c.explain.length > 0).toBe(c.lost + c.phantoms + c.reorders > 0)
  })

  it('counts a reorder per key, and a swap of two keys\' messages is no reorder', () => {
    const h = base()
    deliverAll(h, 's1', ['k1:3', 'k1:1', 'k1:2', 'k2:2', 'k2:1'])
    const c = h.check()
    expect(c.reorders).toBe(3)
    expect([...c.reordersByKey]).toEqual([['k1', 2], ['k2', 1]])
  })

  it('counts a late first delivery of a never-acknowledged message apart from reorders', () => {
    const h = base()
    h.attempt('k1:4', 'pub-a', 60)
    h.attempt('k1:5', 'pub-a', 70); h.ack('k1:5', 75)
    deliverAll(h, 's1', ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3', 'k1:5', 'k1:4'])
    expect(h.check()).toMatchObject({ reorders: 0, inDoubtReorders: 1 })
  })

  it('never counts an unacknowledged message as lost, and lets an unacknowledged one be delivered', () => {
    const h = base()
    h.attempt('k1:4', 'pub-a', 60) // never acknowledged (the connection died)
    h.attempt('k1:5', 'pub-a', 70)
    deliverAll(h, 's1', ['k1:1', 'k2:1', 'k1:2', 'k2:2', 'k1:3', 'k1:5'])
    const c = h.check()
    expect(c).toMatchObject({ attempted: 7, acked: 5, unacked: 2, lost: 0, phantoms: 0, reorders: 0 })
  })

  it('checks only what a subscriber must hold, and a declared subscriber that got nothing misses everything', () => {
    const h = base()
    h.subscriber('silent')
    deliverAll(h, 'late', ['k1:3'])
    expect(h.check().subscribers.get('silent')?.lost).toBe(5)
    expect(h.complete()).toBe(false)
    const c = h.check({ mustHave: (s, a) => s !== 'late' || a.sentMs >= 40 })
    expect(c.subscribers.get('late')?.lost).toBe(0)
    expect(h.complete((s, a) => s === 'late' && a.sentMs >= 40)).toBe(true)
  })

  it('measures recovery as the last key\'s first acknowledged publish sent after the fault', () => {
    const h = new History()
    h.attempt('k1:1', 'a', 0); h.ack('k1:1', 1)
    h.attempt('k1:2', 'a', 100); h.ack('k1:2', 900) // sent after the fault at 50
    h.attempt('k2:1', 'a', 40); h.ack('k2:1', 300) // sent before it: does not count
    h.attempt('k2:2', 'a', 60); h.ack('k2:2', 1_250)
    h.attempt('k2:3', 'a', 70); h.ack('k2:3', 1_200)
    expect(h.recoveryMs(50, ['k1', 'k2'])).toBe(1_150)
    expect(h.recoveryMs(50, ['k1', 'k3'])).toBe(Infinity)
  })

  it('refuses ids that are not unique or not <key>:<n>, and acks of unknown ids', () => {
    const h = new History()
    h.attempt('devices/d1:1', 'a')
    expect(() => h.attempt('devices/d1:1', 'a')).toThrow(/twice/)
    expect(() => h.attempt('devices/d1', 'a')).toThrow(/not <key>:<n>/)
    expect(() => h.ack('devices/d1:2')).toThrow(/never attempted/)
    expect(parseId('devices/d1:12')).toEqual({ key: 'devices/d1', n: 12 })
    expect(parseId('devices/d1:0')).toBeUndefined()
  })
})
