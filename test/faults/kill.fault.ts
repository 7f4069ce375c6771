import { describe, it } from 'vitest'
import { criterion, reportScenario } from './record.js'
import { sleep } from './fault-ring.js'
import { biggestOwner, deliveryCriteria, deliveryFigures, endLoad, keys, seconds, withRing } from './scenario.js'

// kill -9 of the hub owning the most of 60 keys, under QoS 1 load from two clients on each
// survivor, a `devices/#` subscriber on every hub (edge profile: detection ≤ 2 s, recovery ≤ 3 s).
// (a) the hub is restarted on its data 15 s later and rejoins; (b) it never comes back.
const KEYS = keys('k', 60)
const RATE = 600

describe.each([
  { name: 'kill -9 the owner of many keys, restarted after 15 s', restart: true },
  { name: 'kill -9 the owner of many keys, never restarted', restart: false },
])('$name', ({ name, restart }) => {
  it('loses no acknowledged message, invents none, keeps per-key order, and acks the moved keys again within 3 s', async () => {
    await withRing({ hosts: 3 }, async (ring) => {
      const started = performance.now()
      const victim = biggestOwner([1, 2, 3], KEYS)
      const survivors = [1, 2, 3].filter((i) => i !== victim.host)
      for (const i of [1, 2, 3]) await ring.subscribe(i)
      await ring.load({ on: survivors, keys: KEYS, ratePerSec: RATE })
      await sleep(2_000)
      const killAt = performance.now()
      await ring.signal(victim.host, 'SIGKILL')
      const detectedMs = await ring.waitState(survivors, victim.host, 'dead', killAt, 10_000)
      let rejoinMs = 0
      let restartedSubAt = Infinity
      if (restart) {
        await sleep(15_000 - (performance.now() - killAt))
        const restartAt = performance.now()
        await ring.spawn(victim.host)
        await ring.waitWhole([1, 2, 3], 20_000)
        rejoinMs = performance.now() - restartAt
        restartedSubAt = await ring.subscribe(victim.host, `sub@h${victim.host} restarted`)
        await sleep(3_000)
      } else {
        await sleep(8_000)
      }
      const victimSub = `sub@h${victim.host}`
      // The victim's first subscriber had what was acked a second before the kill; the restarted one what was sent after its SUBACK.
      const mustHave = (s: string, a: { sentMs: number, ackedMs?: number }): boolean =>
        s === victimSub ? (a.ackedMs as number) < killAt - 1_000 : s.endsWith('restarted') ? a.sentMs > restartedSubAt : true
      const { c, missing } = await endLoad(ring, name, { zeroMs: killAt, keys: KEYS, logsVia: survivors[0] as number, mustHave })
      const recoveryMs = ring.history.recoveryMs(killAt, victim.keys)
      reportScenario({
        scenario: name,
        figures: {
          ...deliveryFigures(c), 'keys moved': victim.keys.length, 'detection ms': Math.round(detectedMs), 'recovery ms': Math.round(recoveryMs),
          ...(restart ? { 'rejoin after restart ms': Math.round(rejoinMs) } : {}), 'wall s': seconds(performance.now() - started),
        },
        criteria: [
          ...deliveryCriteria(c, missing),
          criterion('detection ms', detectedMs, '<=', 2_000),
          criterion('recovery ms', recoveryMs, '<=', 3_000),
          ...(restart ? [criterion('rejoin after restart ms', rejoinMs, '<=', 10_000)] : []),
        ],
      })
    })
  }, 120_000)
})
