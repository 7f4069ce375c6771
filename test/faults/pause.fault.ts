import { describe, it } from 'vitest'
import { criterion, holds, reportScenario } from './record.js'
import { OwnershipWatch, sleep } from './fault-ring.js'
import { biggestOwner, deliveryCriteria, deliveryFigures, endLoad, keys, seconds, withRing } from './scenario.js'

// SIGSTOP of a hub (a GC pause, a starved VM), then SIGCONT, under QoS 1 load from clients on
// every hub, the paused one included, a `devices/#` subscriber on every hub.
// - 2 s, lan profile: below its minimum suspicion timeout (4 s): at most a suspicion, refuted;
//   no membership change at all (no death, no owner change).
// - 15 s: declared dead, its keys move; on SIGCONT it refutes and takes them back. Fencing: the
//   publishes its clients had in flight when it stopped are numbered by it in its old epoch,
//   whose copies the new owners refuse, so none is acknowledged unless the key's owner holds it
//   (checked: every acknowledged message is in the owner's log and at every subscriber).
const KEYS = keys('s', 60)
const RATE = 600

describe('pause a hub', () => {
  it('for 2 s: no membership change, nothing lost', async () => {
    // lan: a suspicion lasts at least 4 s (edge's 0.6 s minimum would rightly declare it dead).
    await withRing({ hosts: 3, profile: 'lan' }, async (ring) => {
      const started = performance.now()
      const victim = biggestOwner([1, 2, 3], KEYS).host
      for (const i of [1, 2, 3]) await ring.subscribe(i)
      const watch = new OwnershipWatch(ring, [1, 2, 3].filter((i) => i !== victim), KEYS)
      await watch.start()
      await ring.load({ on: [1, 2, 3], keys: KEYS, ratePerSec: RATE })
      await sleep(2_000)
      const before = { died: await ring.events([1, 2, 3], 'memberDied'), suspected: await ring.events([1, 2, 3], 'memberSuspected') }
      const stopAt = performance.now()
      await ring.signal(victim, 'SIGSTOP')
      await sleep(2_000)
      await ring.signal(victim, 'SIGCONT')
      await sleep(5_000)
      const { c, missing } = await endLoad(ring, 'pause 2 s', { zeroMs: stopAt, keys: KEYS, logsVia: 1 })
      watch.stop()
      const deaths = (await ring.events([1, 2, 3], 'memberDied')) - before.died
      reportScenario({
        scenario: 'SIGSTOP a hub 2 s',
        figures: {
          ...deliveryFigures(c), deaths, suspicions: (await ring.events([1, 2, 3], 'memberSuspected')) - before.suspected,
          'owner changes per key (max)': watch.maxChanges, 'every key acked again after SIGCONT ms': Math.round(ring.history.recoveryMs(stopAt + 2_000, KEYS)),
          'wall s': seconds(performance.now() - started),
        },
        criteria: [...deliveryCriteria(c, missing), criterion('deaths', deaths, '==', 0), criterion('owner changes per key (max)', watch.maxChanges, '==', 0)],
      })
    })
  }, 90_000)

  // edge: declared dead 0.6–3.6 s after the stop.
  it('for 15 s: declared dead, refutes on SIGCONT; acks nothing the owner lacks; nothing lost', async () => {
    await withRing({ hosts: 3 }, async (ring) => {
      const started = performance.now()
      const victim = biggestOwner([1, 2, 3], KEYS)
      const others = [1, 2, 3].filter((i) => i !== victim.host)
      for (const i of [1, 2, 3]) await ring.subscribe(i)
      await ring.load({ on: [1, 2, 3], keys: KEYS, ratePerSec: RATE })
      await sleep(2_000)
      const refutedBefore = await ring.events([victim.host], 'selfRefuted')
      const stopAt = performance.now()
      await ring.signal(victim.host, 'SIGSTOP')
      const detectedMs = await ring.waitState(others, victim.host, 'dead', stopAt, 10_000)
      await sleep(15_000 - (performance.now() - stopAt))
      const contAt = performance.now()
      await ring.signal(victim.host, 'SIGCONT')
      const backMs = await ring.waitWhole([1, 2, 3], 20_000)
      await sleep(4_000)
      const { c, missing } = await endLoad(ring, 'pause 15 s', { zeroMs: stopAt, keys: KEYS, logsVia: others[0] as number })
      const refuted = (await ring.events([victim.host], 'selfRefuted')) - refutedBefore
      // The paused hub's clients' publishes in flight across the pause, and which of them were acknowledged.
      const inFlight = [...ring.history.attempts.values()].filter((a) => a.client === `h${victim.host}` && a.sentMs >= stopAt && a.sentMs < contAt)
      const inFlightAcked = inFlight.filter((a) => a.ackedMs !== undefined)
      reportScenario({
        scenario: 'SIGSTOP a hub 15 s',
        figures: {
          ...deliveryFigures(c), 'detection ms': Math.round(detectedMs), 'one ring after SIGCONT ms': Math.round(backMs), refutations: refuted,
          'sent to the paused hub while stopped': inFlight.length, 'of those acked': inFlightAcked.length,
          'every key acked again after SIGCONT ms': Math.round(ring.history.recoveryMs(contAt, KEYS)), 'wall s': seconds(performance.now() - started),
        },
        criteria: [
          ...deliveryCriteria(c, missing),
          criterion('detection ms', detectedMs, '<=', 3_000),
          holds('refuted its death', refuted >= 1),
          criterion('one ring after SIGCONT ms', backMs, '<=', 15_000),
          // Since 2026-11-25 (forward deadlines leave out paused time; late timers wait a pass):
          // the paused hub keeps the forwards it had on their way and acknowledges them once it
          // runs again. Before, it gave them up and closed its clients in about half the runs.
          holds('its clients had publishes in flight across the pause', inFlight.length > 0),
          criterion('in flight across the pause, not acked', inFlight.length - inFlightAcked.length, '==', 0),
        ],
      })
    })
  }, 120_000)
})
