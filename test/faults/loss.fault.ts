import { describe, it } from 'vitest'
import type { TimelineEvent } from '../../hub/src/contract/admin-api.js'
import { criterion, reportScenario } from './record.js'
import { ADMIN_TOKEN, sleep } from './fault-ring.js'
import { describeEvents, newEvents, ownTimeline, suspicionDurations } from './ring-watch.js'
import { deliveryCriteria, deliveryFigures, endLoad, keys, seconds, withRing } from './scenario.js'

// 10 % packet loss on every hub-to-hub path for 20 s (5.13 % on what each host sends and on
// what it receives: 1 − 0.9487² ≈ 10 % per path), QoS 1 load from clients on every hub, a
// subscriber on every hub; edge profile. Nobody may be declared dead, nothing acknowledged lost.
// How long the suspicions lasted (suspected → refuted, from the hubs' timelines) shows the margin
// to the edge profile's 600 ms minimum suspicion timeout; the timeline is printed on a death.
const KEYS = keys('l', 60)
const RATE = 600

describe('packet loss', () => {
  it('10 % on every link for 20 s: no false death, nothing lost', async () => {
    await withRing({ hosts: 3 }, async (ring) => {
      const started = performance.now()
      for (const i of [1, 2, 3]) await ring.subscribe(i)
      await ring.load({ on: [1, 2, 3], keys: KEYS, ratePerSec: RATE })
      await sleep(2_000)
      const before = { died: await ring.events([1, 2, 3], 'memberDied'), suspected: await ring.events([1, 2, 3], 'memberSuspected') }
      const timeline = (): Promise<TimelineEvent[]> => Promise.all([1, 2, 3].map((i) => ownTimeline(ring.admin(i), ring.id(i), ADMIN_TOKEN))).then((t) => t.flat())
      const timelineBefore = await timeline()
      const lossAt = performance.now()
      for (const i of [1, 2, 3]) ring.net.loss(i, 5.13)
      try {
        await sleep(20_000)
      } finally {
        ring.net.heal()
      }
      const ackedDuringLoss = ring.history.ackedBetween(lossAt, performance.now()).length
      await sleep(3_000)
      const { c, missing } = await endLoad(ring, 'loss', { zeroMs: lossAt, keys: KEYS, logsVia: 1 })
      const deaths = (await ring.events([1, 2, 3], 'memberDied')) - before.died
      const fresh = newEvents(timelineBefore, await timeline())
      const lasted = suspicionDurations(fresh).filter((s) => s.ended === 'memberAlive')
      if (deaths > 0) {
        const at = (t: number): string => `${Math.round(t - (fresh[0]?.tsMs ?? t))} ms`
        process.stdout.write(`[faults] loss: timeline: ${fresh.map((e) => `${at(e.tsMs)} ${describeEvents([e])}`).join('; ')}\n`)
      }
      reportScenario({
        scenario: '10 % loss on every hub-to-hub path 20 s',
        figures: {
          ...deliveryFigures(c), 'acked per s during loss': Math.round(ackedDuringLoss / 20), deaths,
          suspicions: (await ring.events([1, 2, 3], 'memberSuspected')) - before.suspected,
          'suspicions refuted after ms (median / longest)': lasted.length === 0 ? 'none' : `${lasted[lasted.length >> 1]?.ms} / ${lasted.at(-1)?.ms}`,
          'wall s': seconds(performance.now() - started),
        },
        criteria: [...deliveryCriteria(c, missing), criterion('deaths', deaths, '==', 0), criterion('acked per s during loss', ackedDuringLoss / 20, '>=', 100)],
      })
    })
  }, 90_000)
})
