import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, it } from 'vitest'
import { counter, oneRing } from '../helpers/admin.js'
import { tempDir } from '../helpers/hubs.js'
import { Qos1Load, checkDeliveries, explainDeliveries } from '../helpers/qos1-load.js'
import { RingFixture } from '../helpers/ring-fixture.js'
import { waitFor } from '../helpers/wait.js'
import { criterion, reportScenario } from './record.js'
import { faketimeEnv, sleep } from './host-faults.js'
import { countEvents, describeEvents, newEvents, ownTimeline, sampleViews } from './ring-watch.js'

// Issue 7, clock: three hubs whose wall clocks disagree (libfaketime: one +30 s, one −30 s, one
// right), then, during the run, jump: the +30 s hub back to −90 s (two minutes backwards) and the
// −30 s hub forward to +150 s (three minutes ahead). The monotonic clock is left alone (as NTP or
// an operator setting the time leaves CLOCK_MONOTONIC alone; FAKETIME_DONT_FAKE_MONOTONIC), and
// Node's Date.now() follows the fake while performance.now() and timers do not (checked once by
// hand: Date.now() jumps with the spec file, performance.now() does not).
// Under light QoS 1 load through every hub, pass:
//   - no membership change: no suspicion, death, refutation or join anywhere after the ring
//     formed (timeline events and ringhub_membership_events_total), one ring checksum in every
//     sample of every hub's view;
//   - no ownership change: no ownershipChanged event;
//   - nothing lost, no phantom, no reorder at any hub's subscriber.
// Each hub's wall clock is read from its HTTP Date header (whole seconds) before and after the
// jump, so the run shows the skew really was there.
// Profile `lan`: the skews and jumps are tens of seconds to minutes, so a duration measured on
// the wall clock would break `lan`'s timers (probe 1 s, suspicion ≥ 4 s, reaping 30 s) as surely
// as `edge`'s; `edge`'s 100 ms probe timeout, on this shared 2-core machine, also suspects hubs
// whose event loop the machine's load delays, whatever their clocks (a run at load average 9:
// one suspicion, refuted, in this scenario and two among the healthy hubs of cpu-starve at the
// same time), which would make this scenario measure the machine rather than the clocks.
const IDS = ['ka', 'kb', 'kc'] as const
const SKEW_BEFORE: Record<string, number | undefined> = { ka: 30, kb: -30 }
const SKEW_AFTER: Record<string, number | undefined> = { ka: -90, kb: 150 }
const BEFORE_MS = 5_000
const AFTER_MS = 7_000
const OFFERED_PER_SEC = 100

/** The hub's wall clock minus ours, in whole seconds, from its HTTP Date header. */
async function skewS(admin: string): Promise<number> {
  const res = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(2_000) })
  const date = Date.parse(res.headers.get('date') ?? '')
  await res.arrayBuffer()
  return Math.round((date - Date.now()) / 1000)
}

const spec = (s: number | undefined): string => `${s !== undefined && s >= 0 ? '+' : ''}${s ?? 0}s`

describe('clock: hubs with skewed and jumping wall clocks', () => {
  const ring = new RingFixture(['--profile', 'lan'])
  const specs = tempDir('ringhub-faketime-')
  let load: Qos1Load | undefined
  afterAll(async () => {
    await load?.close()
    await ring.cleanup()
    specs.remove()
  })

  it('changes no membership or ownership and loses nothing', async () => {
    const started = performance.now()
    const envOf = (id: string): NodeJS.ProcessEnv => {
      if (SKEW_BEFORE[id] === undefined) return {}
      const file = join(specs.path, `${id}.spec`)
      writeFileSync(file, spec(SKEW_BEFORE[id]))
      return faketimeEnv(file)
    }
    await ring.spawn(IDS[0], undefined, [], envOf(IDS[0]))
    await Promise.all(IDS.slice(1).map((id) => ring.spawn(id, IDS[0], [], envOf(id))))
    await waitFor(async () => oneRing(await ring.views(IDS), IDS), 'one ring of three', 30_000, 50)
    const skewBefore = await Promise.all(IDS.map((id) => skewS(ring.admin(id))))

    const received = new Map<string, string[]>()
    for (const id of IDS) received.set(id, (await ring.subscriber(id)).received)
    const timelineBefore = new Map(await Promise.all(IDS.map(async (id) => [id, await ownTimeline(ring.admin(id), id)] as const)))
    const membershipBefore = await Promise.all(IDS.map((id) => counter(ring.admin(id), 'ringhub_membership_events_total')))
    const sampler = sampleViews(new Map(IDS.map((id) => [id, ring.admin(id)])), 250)
    load = new Qos1Load({
      publishers: IDS.map((id, i) => ({ url: ring.url(id), keys: Array.from({ length: 8 }, (_, k) => `devices/clk${i}k${k}`) })),
      ratePerSec: OFFERED_PER_SEC, keyWindow: 5, ackTimeoutMs: 20_000,
    })
    await load.start()
    await sleep(BEFORE_MS)
    for (const id of IDS) if (SKEW_AFTER[id] !== undefined) writeFileSync(join(specs.path, `${id}.spec`), spec(SKEW_AFTER[id]))
    const jumpedAt = performance.now()
    // libfaketime re-reads the spec file at most once a second (FAKETIME_CACHE_DURATION=1).
    const skewAfter = await waitFor(async () => {
      const s = await Promise.all(IDS.map((id) => skewS(ring.admin(id))))
      return IDS.every((id, i) => Math.abs((s[i] as number) - (SKEW_AFTER[id] ?? 0)) <= 2) ? s : undefined
    }, 'the jumped clocks', 5_000, 100).catch(async () => Promise.all(IDS.map((id) => skewS(ring.admin(id)))))
    const jumpSeenMs = Math.round(performance.now() - jumpedAt)
    await sleep(AFTER_MS)
    await load.stop(10_000)
    const stats = load.stats()
    const acked = load.acked.map((m) => `${m.key}:${m.n}`)
    // Deliveries of the last acks may still be on their way.
    await waitFor(() => IDS.every((id) => checkDeliveries(received.get(id) ?? [], load as Qos1Load, acked).lost === 0), 'every acked message delivered', 5_000, 50).catch(() => undefined)
    await sampler.stop()
    const checks = IDS.map((id) => checkDeliveries(received.get(id) ?? [], load as Qos1Load, acked))
    for (const [i, c] of checks.entries()) {
      if (c.lost + c.phantoms + c.reorders === 0) continue
      process.stdout.write(`[faults] clock: subscriber on ${IDS[i]}: ${explainDeliveries(received.get(IDS[i] as string) ?? [], load, acked, jumpedAt).join('\n  ')}\n`)
    }
    const fresh = (await Promise.all(IDS.map(async (id) => newEvents(timelineBefore.get(id) ?? [], await ownTimeline(ring.admin(id), id))))).flat()
    const membershipAfter = await Promise.all(IDS.map((id) => counter(ring.admin(id), 'ringhub_membership_events_total')))
    const membershipEvents = membershipAfter.reduce((s, n, i) => s + n - (membershipBefore[i] as number), 0)
    const checksums = new Set(sampler.samples.flatMap((s) => [...s.views.values()].flatMap((v) => (v ? [v.checksum] : []))))
    const unanswered = sampler.samples.reduce((n, s) => n + [...s.views.values()].filter((v) => v === undefined).length, 0)
    const notAlive = sampler.samples.filter((s) => [...s.views.values()].some((v) => v !== undefined && IDS.some((id) => v.states[id] !== 'alive')))
    const notAllAlive = notAlive.length
    await load.close()
    load = undefined
    if (fresh.length > 0) process.stdout.write(`[faults] clock: timeline: ${describeEvents(fresh)}\n`)
    const sum = (f: (c: (typeof checks)[number]) => number): number => checks.reduce((s, c) => s + f(c), 0)
    const skewText = (s: number[]): string => IDS.map((id, i) => `${id} ${s[i] !== undefined && s[i] >= 0 ? '+' : ''}${s[i]}`).join(', ')

    reportScenario({
      scenario: 'clock: 3 hubs (lan) at +30/−30/0 s, then jumps of −120 s and +180 s',
      figures: {
        'skew before s': skewText(skewBefore),
        'skew after s': skewText(skewAfter),
        'jump seen after ms': jumpSeenMs,
        'sent/acked': `${stats.sent}/${stats.acked}`,
        'view samples': `${sampler.samples.length} × ${IDS.length}`,
        'timeline events': fresh.length,
        'samples with a member not alive (ms after the jump)': notAlive.length === 0 ? 'none' : notAlive.map((x) => Math.round(x.atMs - jumpedAt)).join(' '),
        'wall s': Math.round((performance.now() - started) / 1000),
      },
      criteria: [
        criterion('hubs at the skew they were given, before (|Δ| s, worst)', Math.max(...IDS.map((id, i) => Math.abs((skewBefore[i] as number) - (SKEW_BEFORE[id] ?? 0)))), '<=', 2),
        criterion('hubs at the skew they were given, after the jump (|Δ| s, worst)', Math.max(...IDS.map((id, i) => Math.abs((skewAfter[i] as number) - (SKEW_AFTER[id] ?? 0)))), '<=', 2),
        criterion('membership events (all hubs, ringhub_membership_events_total)', membershipEvents, '==', 0),
        criterion('suspicions, deaths, joins (timeline)', countEvents(fresh, 'memberSuspected') + countEvents(fresh, 'memberDied') + countEvents(fresh, 'memberJoined') + countEvents(fresh, 'memberAlive'), '==', 0),
        criterion('ownershipChanged events', countEvents(fresh, 'ownershipChanged'), '==', 0),
        criterion('distinct ring checksums sampled', checksums.size, '==', 1),
        criterion('samples where a hub held a member not alive', notAllAlive, '==', 0),
        criterion('view samples unanswered', unanswered, '==', 0),
        criterion('acked', stats.acked, '>', 0),
        criterion('lost (all subscribers)', sum((c) => c.lost), '==', 0),
        criterion('phantoms', sum((c) => c.phantoms), '==', 0),
        criterion('reorders', sum((c) => c.reorders), '==', 0),
      ],
    })
  })
})
