import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { RetryHolds } from '../../hub/src/routing/retry-holds.js'

describe('RetryHolds (a key waits for the retries of the messages its owner could not finish)', () => {
  it('lets only the earliest arrived held message through, then the next, then everything', () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    // Held out of arrival order (a copy failure reported after a later refusal): arrival decides.
    holds.hold('k', 'b', 'h2', 8)
    holds.hold('k', 'a', 'h2', 7)
    holds.hold('k', 'a', 'h2', 9) // its retry, held again: keeps its first place
    expect(holds.waitingFor('k', 'c')).toBe('a')
    expect(holds.waitingFor('k', 'b')).toBe('a')
    expect(holds.waitingFor('k', undefined), 'a local first attempt waits too').toBe('a')
    expect(holds.waitingFor('k', 'a')).toBeUndefined()
    expect(holds.waitingFor('other', 'c'), 'other keys do not wait').toBeUndefined()
    holds.released('k', 'a')
    expect(holds.waitingFor('k', 'c')).toBe('b')
    holds.released('k', 'b')
    expect(holds.waitingFor('k', 'c')).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('ends a hold after holdMs, when its ingress hub dies, and when its key leaves this hub', () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    holds.hold('k1', 'a', 'h2', 1)
    holds.hold('k2', 'b', 'h3', 2)
    holds.hold('k3', 'c', 'h2', 3)
    holds.hubGone('h3')
    expect(holds.waitingFor('k2', 'x')).toBeUndefined()
    holds.keepOnly((key) => key !== 'k3')
    expect(holds.waitingFor('k3', 'x')).toBeUndefined()
    clock.advance(999)
    expect(holds.waitingFor('k1', 'x')).toBe('a')
    clock.advance(1)
    expect(holds.waitingFor('k1', 'x')).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('makes the other messages of a held key wait, in arrival order, until the hold changes or ends', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    expect(holds.turn('k', 'x'), 'nothing held: at once').toBeUndefined()
    holds.hold('k', 'a', 'h2', 1)
    holds.hold('k', 'b', 'h2', 2)
    expect(holds.turn('k', 'a'), 'the held message itself goes').toBeUndefined()
    const woke: string[] = []
    for (const id of ['x', 'y']) void holds.turn('k', id)?.then(() => woke.push(id))
    holds.released('k', 'zzz') // not held: nothing changes
    await Promise.resolve()
    expect(woke).toEqual([])
    holds.released('k', 'a')
    await Promise.resolve()
    expect(woke, 'woken to check again (b is still held)').toEqual(['x', 'y'])
    // b's retry never comes: its hold ends after holdMs, and the waiting message goes on.
    const late = holds.turn('k', 'x')
    let done = false
    void late?.then(() => { done = true })
    clock.advance(999); await Promise.resolve()
    expect(done).toBe(false)
    clock.advance(1); await Promise.resolve()
    expect(done).toBe(true)
    expect(holds.turn('k', 'x')).toBeUndefined()
  })
})
