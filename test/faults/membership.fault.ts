import { describe, it } from 'vitest'
import { criterion, reportScenario } from './record.js'
import { OwnershipWatch, sleep } from './fault-ring.js'
import { deliveryCriteria, deliveryFigures, endLoad, keys, seconds, withRing } from './scenario.js'

// A 4th hub joins a ring of three under QoS 1 load (clients and subscribers on the three), stays
// 6 s, then leaves gracefully (SIGTERM). Keys move to it and back: nothing lost or reordered,
// every key changes owner at most twice, the ring is one again quickly both times.
const KEYS = keys('m', 120)
const RATE = 600

describe('membership changes under load', () => {
  it('add a hub, then remove it (SIGTERM): nothing lost, at most two owner changes per key', async () => {
    await withRing({ hosts: 4, initial: 3 }, async (ring) => {
      const started = performance.now()
      for (const i of [1, 2, 3]) await ring.subscribe(i)
      const watch = new OwnershipWatch(ring, [1, 2, 3], KEYS)
      await watch.start()
      await ring.load({ on: [1, 2, 3], keys: KEYS, ratePerSec: RATE })
      await sleep(2_000)
      const joinAt = performance.now()
      await ring.spawn(4)
      await ring.waitWhole([1, 2, 3, 4], 20_000)
      const joinMs = performance.now() - joinAt
      const moved = [...(await ring.owners(1, KEYS)).values()].filter((o) => o === 'h4').length
      await sleep(6_000)
      const sequencedByH4 = await ring.routerEvents(4, 'sequenced')
      const leaveAt = performance.now()
      await ring.signal(4, 'SIGTERM')
      await ring.waitWhole([1, 2, 3], 20_000)
      const leaveMs = performance.now() - leaveAt
      await sleep(3_000)
      const { c, missing } = await endLoad(ring, 'add/remove', { zeroMs: joinAt, keys: KEYS, logsVia: 1 })
      watch.stop()
      const joinRecoveryMs = ring.history.recoveryMs(joinAt + joinMs, KEYS)
      reportScenario({
        scenario: 'add a 4th hub, then remove it, under load',
        figures: {
          ...deliveryFigures(c), unacked: c.unacked, 'keys moved to the new hub': moved, 'messages it numbered': sequencedByH4,
          'one ring after spawn ms': Math.round(joinMs), 'one ring after SIGTERM ms': Math.round(leaveMs),
          'owner changes per key (max)': watch.maxChanges, 'every key acked after the join ms': Math.round(joinRecoveryMs), 'wall s': seconds(performance.now() - started),
        },
        criteria: [
          ...deliveryCriteria(c, missing),
          criterion('owner changes per key (max)', watch.maxChanges, '<=', 2),
          criterion('keys moved to the new hub', moved, '>', 0),
          criterion('one ring after spawn ms', joinMs, '<=', 10_000),
          criterion('one ring after SIGTERM ms', leaveMs, '<=', 5_000),
          criterion('every key acked after the join ms', joinRecoveryMs, '<=', 3_000),
        ],
      })
    })
  }, 120_000)
})
