import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { Awareness } from '../../hub/src/membership/awareness.js'
import { BroadcastQueue } from '../../hub/src/membership/broadcast-queue.js'
import type { Member } from '../../hub/src/membership/member.js'
import { MemberTable } from '../../hub/src/membership/member-table.js'
import { LAN_PROFILE } from '../../hub/src/membership/profiles.js'
import { ForwardOrder } from '../../hub/src/routing/forward-order.js'

/** Publishes entered so far (`ForwardTicket.n`). */
let entered = 0

// Durations are measured on the monotonic clock (STYLE §2, issue 7 clock scenario): a wall clock
// moved by NTP or an operator (±30 s, or an hour) must not expire a publish's forward deadline
// nor make a dead member look older or younger. ManualClock.jumpWallClock moves `now()` alone.

describe('a wall-clock jump', () => {
  it('ManualClock.jumpWallClock moves now() and nothing else', () => {
    const clock = new ManualClock(1_000)
    let fired = 0
    clock.setTimeout(() => fired++, 100)
    clock.jumpWallClock(60_000)
    expect([clock.now(), clock.monotonicMs(), fired]).toEqual([61_000, 1_000, 0])
    clock.jumpWallClock(-90_000)
    clock.advance(100)
    expect([clock.now(), clock.monotonicMs(), fired]).toEqual([-28_900, 1_100, 1])
  })

  it.each([60_000, -60_000])('of %i ms neither expires nor extends a forward deadline', async (jumpMs) => {
    const clock = new ManualClock()
    const order = new ForwardOrder({ clock, ownerOf: () => 'B', minDelayMs: 25, maxDelayMs: 1_000 })
    // The ingress gives a publish 10 s (monotonic) to reach an owner.
    const a = order.enter('k', clock.monotonicMs() + 10_000, ++entered)
    expect(order.ready(a)).toBeUndefined()
    order.sent(a, 'B')
    expect(order.failed(a)).toBe(true) // the owner's connection dropped: back off 25 ms
    const turn = order.ready(a) as Promise<void>
    let outcome = 'waiting'
    turn.then(() => { outcome = 'retried' }, (err: Error) => { outcome = err.message })
    clock.jumpWallClock(jumpMs)
    clock.advance(25)
    await new Promise((r) => setImmediate(r))
    expect(outcome).toBe('retried')
    // And it still gives up 10 s after it came in, whatever the wall clock says: a failure whose
    // backoff (50 ms now) would end past the deadline is final.
    order.sent(a, 'B')
    clock.advance(9_900)
    expect(order.failed(a)).toBe(true)
    order.sent(a, 'B')
    clock.advance(60)
    expect(order.failed(a)).toBe(false)
  })

  it.each([3_600_000, -3_600_000])('of %i ms does not change when a dead member is reaped', (jumpMs) => {
    const clock = new ManualClock()
    const member = (id: string, port: number): Member => ({ id, incarnation: 1, state: 'alive', stateChangeMs: clock.monotonicMs(), addresses: { gossip: `127.0.0.1:${port}` }, meta: { version: 't', role: 'hub' } })
    const table = new MemberTable({
      self: member('a', 1), clock, log: silentLogger(), profile: LAN_PROFILE,
      broadcasts: new BroadcastQueue({ retransmitMult: 4, numMembers: () => 2 }), awareness: new Awareness(8),
    })
    table.applyAlive({ type: 'alive', incarnation: 1, node: 'b', addresses: { gossip: '127.0.0.1:2' }, meta: { version: 't', role: 'hub' } })
    table.applyDead({ type: 'dead', incarnation: 1, node: 'b', from: 'a' })
    expect(table.get('b')?.state).toBe('dead')
    clock.jumpWallClock(jumpMs)
    clock.advance(29_000)
    table.reap(30_000, 30_000)
    expect(table.get('b')?.state, 'kept until 30 s have passed').toBe('dead')
    clock.advance(1_001)
    table.reap(30_000, 30_000)
    expect(table.get('b'), 'reaped once 30 s have passed').toBeUndefined()
  })
})
