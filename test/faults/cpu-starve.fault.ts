import { afterAll, describe, it } from 'vitest'
import { counter, oneRing } from '../helpers/admin.js'
import { Qos1Load, checkDeliveries } from '../helpers/qos1-load.js'
import { RingFixture } from '../helpers/ring-fixture.js'
import { waitFor } from '../helpers/wait.js'
import { criterion, holds, reportScenario } from './record.js'
import { cpuQuotaGroup, sleep, type CpuQuotaGroup } from './host-faults.js'
import { countEvents, describeEvents, newEvents, ownTimeline, sampleViews } from './ring-watch.js'

// Issue 7, CPU: one hub of a 3-hub ring starved to 10 % of one CPU (cgroup v1 cpu controller,
// cfs_quota_us 10 000 per 100 000 µs period) for STARVE_MS, under light QoS 1 load through every
// hub. Pass: no healthy hub is declared dead by anyone (the starved hub included: its own late
// probes must not kill the others; Lifeguard's local health multiplier is there for that), and
// the starved hub does not crash and is alive in every view again within BACK_MS of the end.
// Reported: how the healthy hubs saw the starved one (suspicions, deaths, refutations), and the
// suspicions of healthy hubs about each other (which a suspicion the starved hub starts can
// spread to: a figure, not a criterion; a death would be one).
//
// Profile `edge`: this is its use case (a few hubs on one LAN, a crash seen everywhere in ≤ 2 s),
// and its timers are the ones a starved event loop threatens: a 100 ms probe timeout against a
// quota that runs the process 10 ms in every 100 ms, and a Lifeguard maximum suspicion of 3.6 s.
// `lan` (500 ms timeout, 24 s maximum) gives five times the slack and would prove less.
const IDS = ['ca', 'cb', 'cc'] as const
const STARVED = 'cc'
const HEALTHY: readonly string[] = IDS.filter((id) => id !== STARVED)
const STARVE_MS = 20_000
const BACK_MS = 15_000
const OFFERED_PER_SEC = 600

describe('cpu: one hub of three starved to 10 % of a CPU', () => {
  const ring = new RingFixture(['--profile', 'edge'])
  let group: CpuQuotaGroup | undefined
  let load: Qos1Load | undefined
  afterAll(async () => {
    group?.remove()
    await load?.close()
    await ring.cleanup()
  })

  it('declares no healthy hub dead, and the starved hub survives', async () => {
    const started = performance.now()
    await ring.spawn(IDS[0])
    await Promise.all(IDS.slice(1).map((id) => ring.spawn(id, IDS[0])))
    await waitFor(async () => oneRing(await ring.views(IDS), IDS), 'one ring of three', 20_000, 50)
    const admins = new Map(IDS.map((id) => [id, ring.admin(id)]))
    const received = new Map<string, string[]>()
    for (const id of IDS) received.set(id, (await ring.subscriber(id)).received)
    load = new Qos1Load({
      publishers: IDS.map((id, i) => ({ url: ring.url(id), keys: Array.from({ length: 10 }, (_, k) => `devices/cpu${i}k${k}`) })),
      ratePerSec: OFFERED_PER_SEC, keyWindow: 5, ackTimeoutMs: 30_000,
    })
    await load.start()
    await sleep(2_000)
    const before = new Map(await Promise.all(IDS.map(async (id) => [id, await ownTimeline(ring.admin(id), id)] as const)))
    const refutedBefore = await counter(ring.admin(STARVED), 'ringhub_membership_events_total', 'event="selfRefuted"')

    const pid = ring.hub(STARVED).child.pid as number
    group = cpuQuotaGroup(`ringhub-starve-${process.pid}`, 10)
    const sampler = sampleViews(admins, 500)
    group.add(pid)
    const starvedAt = performance.now()
    await sleep(STARVE_MS)
    const throttle = group.stat()
    group.remove()
    group = undefined
    const releasedAt = performance.now()
    // Back: every hub answers and holds all three alive with one checksum.
    const backMs = await waitFor(async () => oneRing(await ring.views(IDS), IDS), 'one ring of three after the starvation', BACK_MS, 100)
      .then(() => Math.round(performance.now() - releasedAt), () => Infinity)
    await sampler.stop()
    await load.stop(10_000)
    const stats = load.stats()
    await sleep(1_000)
    const alive = ring.hub(STARVED).child.exitCode === null && ring.hub(STARVED).child.signalCode === null

    const fresh = (await Promise.all(IDS.map(async (id) => newEvents(before.get(id) ?? [], await ownTimeline(ring.admin(id), id))))).flat()
    const healthy = (m: string): boolean => HEALTHY.includes(m)
    const deathsOfHealthy = countEvents(fresh, 'memberDied', (e) => healthy(e.member) && e.member !== e.seenBy)
    const suspicionsAmongHealthy = countEvents(fresh, 'memberSuspected', (e) => healthy(e.member) && healthy(e.seenBy) && e.member !== e.seenBy)
    const suspicionsOfHealthyByStarved = countEvents(fresh, 'memberSuspected', (e) => healthy(e.member) && e.seenBy === STARVED)
    const suspicionsOfStarved = countEvents(fresh, 'memberSuspected', (e) => e.member === STARVED && healthy(e.seenBy))
    const deathsOfStarved = countEvents(fresh, 'memberDied', (e) => e.member === STARVED && healthy(e.seenBy))
    const refuted = await counter(ring.admin(STARVED), 'ringhub_membership_events_total', 'event="selfRefuted"') - refutedBefore
    // How the healthy hubs saw the starved one, sample by sample during the starvation.
    const during = sampler.samples.filter((s) => s.atMs >= starvedAt && s.atMs < releasedAt)
    const seenAs = (state: string): number => during.filter((s) => HEALTHY.some((h) => s.views.get(h)?.states[STARVED] === state)).length
    const starvedAnswered = during.filter((s) => s.views.get(STARVED) !== undefined).length
    // Ack latency of publishes sent during the starvation: through the starved hub, and through the others.
    const starvedPublisher = `devices/cpu${IDS.indexOf(STARVED)}`
    const latencies = (viaStarved: boolean): number[] => load?.acked
      .filter((m) => m.sentMs >= starvedAt && m.sentMs < releasedAt && m.key.startsWith(starvedPublisher) === viaStarved)
      .map((m) => (m.ackedMs as number) - m.sentMs).sort((x, y) => x - y) ?? []
    const p99 = (xs: number[]): number => Math.round(xs[Math.floor(xs.length * 0.99)] ?? NaN)
    const ackP99 = `${p99(latencies(true))}/${p99(latencies(false))}`
    const acked = load.acked.map((m) => `${m.key}:${m.n}`)
    const checks = HEALTHY.map((id) => checkDeliveries(received.get(id) ?? [], load as Qos1Load, acked))
    const lostAtHealthy = checks.reduce((s, c) => s + c.lost, 0)
    await load.close()
    load = undefined
    if (fresh.length > 0) process.stdout.write(`[faults] cpu starvation: timeline: ${describeEvents(fresh)}\n`)

    reportScenario({
      scenario: `cpu: one hub of 3 (edge) at 10 % of a CPU for ${STARVE_MS / 1000} s`,
      figures: {
        'throttled periods': `${throttle.throttled}/${throttle.periods}`,
        'throttled s': Math.round(throttle.throttledMs / 100) / 10,
        'sent/acked': `${stats.sent}/${stats.acked}`,
        'ack p99 ms while starved (via starved / via healthy)': ackP99,
        'starved hub suspected (events at healthy hubs)': suspicionsOfStarved,
        'starved hub declared dead (events at healthy hubs)': deathsOfStarved,
        'samples with the starved hub suspect/dead at a healthy hub': `${seenAs('suspect')}/${seenAs('dead')} of ${during.length}`,
        'starved hub refuted': refuted,
        'starved hub answered its admin API (samples)': `${starvedAnswered} of ${during.length}`,
        'suspicions among healthy hubs': suspicionsAmongHealthy,
        'healthy hubs suspected by the starved hub': suspicionsOfHealthyByStarved,
        'ring whole again after release ms': backMs,
        'lost at healthy hubs\' subscribers': lostAtHealthy,
        'wall s': Math.round((performance.now() - started) / 1000),
      },
      criteria: [
        criterion('healthy hubs declared dead (by anyone)', deathsOfHealthy, '==', 0),
        holds('starved hub still running', alive),
        criterion('ring whole again after release, ms', backMs, '<=', BACK_MS),
        criterion('throttled periods', throttle.throttled, '>', 0),
      ],
    })
  })
})
