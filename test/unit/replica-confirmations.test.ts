import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { ReplicaConfirmations } from '../../hub/src/routing/replica-confirmations.js'

/** The promise's outcome so far: true/false once settled, 'pending' before. */
function outcome(p: Promise<boolean>): () => boolean | 'pending' {
  let result: boolean | 'pending' = 'pending'
  void p.then((v) => { result = v })
  return () => result
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('ReplicaConfirmations (the ingress hub waiting for replicas\' own word)', () => {
  it('resolves once every named replica has confirmed, not before', async () => {
    const c = new ReplicaConfirmations(new ManualClock())
    const done = outcome(c.wait('a:1', 'o', ['r1', 'r2'], 1_000))
    c.confirmed('r1', ['a:1'])
    await turn()
    expect(done()).toBe('pending')
    c.confirmed('r3', ['a:1'])
    await turn()
    expect(done()).toBe('pending')
    c.confirmed('r2', ['a:1'])
    await turn()
    expect(done()).toBe(true)
    expect(c.size).toEqual({ waiting: 0, early: 0 })
  })

  it('keeps a confirmation that arrives before the owner\'s reply, for that wait only', async () => {
    const c = new ReplicaConfirmations(new ManualClock())
    c.confirmed('r1', ['a:1', 'a:2'])
    expect(c.size.early).toBe(2)
    expect(await c.wait('a:1', 'o', ['r1'], 1_000)).toBe(true)
    const other = outcome(c.wait('a:2', 'o', ['r1', 'r2'], 1_000))
    await turn()
    expect(other()).toBe('pending')
    c.confirmed('r2', ['a:2'])
    await turn()
    expect(other()).toBe(true)
    expect(c.size).toEqual({ waiting: 0, early: 0 })
  })

  it('gives up at the deadline (false; at the pass after it, once what came meanwhile is read), and a late confirmation changes nothing', async () => {
    const clock = new ManualClock()
    const c = new ReplicaConfirmations(clock)
    const done = outcome(c.wait('a:1', 'o', ['r1'], 500))
    clock.advance(500)
    await turn()
    expect(done()).toBe('pending')
    clock.advance(1)
    await turn()
    expect(done()).toBe(false)
    c.confirmed('r1', ['a:1'])
    await turn()
    expect(done()).toBe(false)
  })

  it('ends at once (false) the waits on a dead owner or on a dead replica not heard from yet, and no other', async () => {
    const c = new ReplicaConfirmations(new ManualClock())
    const deadOwner = outcome(c.wait('a:1', 'o1', ['r1'], 1_000))
    const deadReplica = outcome(c.wait('a:2', 'o2', ['r1', 'r2'], 1_000))
    const heardFromDead = outcome(c.wait('a:3', 'o2', ['r2', 'r3'], 1_000))
    const alive = outcome(c.wait('a:4', 'o2', ['r1'], 1_000))
    c.confirmed('r2', ['a:3'])
    const dead = new Set(['o1', 'r2'])
    c.hubsGone((hub) => !dead.has(hub))
    await turn()
    expect([deadOwner(), deadReplica(), heardFromDead(), alive()]).toEqual([false, false, 'pending', 'pending'])
    expect(c.size.waiting).toBe(2)
    c.confirmed('r3', ['a:3'])
    c.confirmed('r1', ['a:4', 'a:1'])
    await turn()
    expect([deadOwner(), heardFromDead(), alive()]).toEqual([false, true, true])
  })

  it('ends a wait (false) when the owner says the copies failed, also when told before the wait began', async () => {
    const c = new ReplicaConfirmations(new ManualClock())
    const waiting = outcome(c.wait('a:1', 'o', ['r1'], 1_000))
    const other = outcome(c.wait('a:2', 'o', ['r1'], 1_000))
    c.failed(['a:1', 'a:3'])
    await turn()
    expect([waiting(), other()]).toEqual([false, 'pending'])
    c.confirmed('r1', ['a:3']) // a late confirmation does not undo the failure
    expect(await c.wait('a:3', 'o', ['r1'], 1_000)).toBe(false)
    expect(c.size).toEqual({ waiting: 1, early: 0 })
  })

  it('bounds the confirmations nobody waits for (oldest dropped first)', () => {
    const c = new ReplicaConfirmations(new ManualClock())
    for (let i = 0; i < 25_000; i++) c.confirmed('r1', [`a:${i}`])
    expect(c.size.early).toBe(20_000)
  })

  it('ends every wait with false when closed', async () => {
    const c = new ReplicaConfirmations(new ManualClock())
    const done = outcome(c.wait('a:1', 'o', ['r1'], 1_000))
    c.close()
    await turn()
    expect(done()).toBe(false)
  })
})
