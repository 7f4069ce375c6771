import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { counter, oneRing, stateIn } from '../helpers/admin.js'
import { stopHub } from '../helpers/hubs.js'
import { Qos1Load, checkDeliveries, explainDeliveries, ratesBetween, type DeliveryCheck } from '../helpers/qos1-load.js'
import { RingFixture, faultCounters } from '../helpers/ring-fixture.js'
import { waitFor } from '../helpers/wait.js'

// Issue 4's fault tests under QoS 1 load, with real hub processes. One file so that they run
// one after the other: each offers 2k msg/s on this shared 2-core machine, and the kill tests
// assert recovery times.
//
// Load (test/helpers/qos1-load.ts): offered 2k msg/s, ramping up over 1 s, on several publisher
// connections, keys dealt round robin; pipelined, up to KEY_WINDOW unacknowledged publishes per
// key, as a device with an in-flight window sends them. Subscribers (`devices/#`, QoS 1) on
// every hub. MQTT 3.1.1 messages carry no (epoch, seq), so each payload is "<key>:<n>", n
// counting up per key in publish order. Checked at every subscriber:
// - lost: acknowledged messages it does not hold (0 allowed);
// - phantoms: messages never sent (0 allowed);
// - reorders: a message arriving for the first time after a higher n of its key (0 allowed); a
//   repeat of one already received is a QoS 1 duplicate, counted and printed (a retried publish
//   that a dead or moving owner had already sent).
// The machine is shared with other runs and benchmarks, so the generator reports what it
// achieved and the tests assert a floor (MIN_ACKED_PER_SEC), not the offered 2k msg/s.
// Membership and routing counters are printed: a hub wrongly declared dead under CPU starvation
// explains a loss at its subscriber. Two losses these tests can still show are known and not
// fixed yet (docs/routing.md, Not built yet): at a hub wrongly declared dead, and, rarely, the
// last deliveries of a killed owner at a survivor that was slow to read.
const OFFERED_PER_SEC = 2_000
/** Acknowledged msg/s below which a run did not test what it claims (measured 380–2100 here). */
const MIN_ACKED_PER_SEC = 200
/** Unacknowledged publishes per key: pipelined, so a move finds several in flight per key. */
const KEY_WINDOW = 10
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const describeCheck = (id: string, c: DeliveryCheck, note = ''): string =>
  `subscriber on ${id}${note}: ${c.received} received, ${c.lost} lost, ${c.phantoms} phantoms, ${c.duplicates} duplicates, ${c.reorders} reorders`

function expectClean(checks: Map<string, DeliveryCheck>): void {
  for (const [id, c] of checks) {
    expect(c.lost, `lost at ${id}`).toBe(0)
    expect(c.phantoms, `phantoms at ${id}`).toBe(0)
    expect(c.reorders, `reorders at ${id}`).toBe(0)
  }
}

// kill -9 of the owner of the most of 100 keys (≥ 30), three hubs, ten publisher connections
// on the two survivors. Recovery: for every moved key, a publish sent after the kill is
// acknowledged within 3 s (edge) or 8 s (lan) of the kill.
const KILL_KEYS = Array.from({ length: 100 }, (_, i) => `devices/k${i}`)
const PROFILES = [
  { profile: 'edge', ids: ['ea', 'eb', 'ec'], recoveryMs: 3_000, formMs: 15_000 },
  { profile: 'lan', ids: ['la', 'lb', 'lc'], recoveryMs: 8_000, formMs: 30_000 },
] as const

describe.each(PROFILES)('kill -9 of a key owner under 2k msg/s QoS 1 load ($profile)', ({ profile, ids, recoveryMs, formMs }) => {
  const ring = new RingFixture(['--profile', profile])

  beforeAll(async () => {
    await ring.spawn(ids[0])
    await Promise.all(ids.slice(1).map((id) => ring.spawn(id, ids[0])))
    await waitFor(async () => oneRing(await ring.views(ids), ids), 'one ring of three', formMs, 50)
  }, formMs + 20_000)
  afterAll(() => ring.cleanup())

  it(`loses no acknowledged message, invents none, keeps per-key order, and acks the moved keys again within ${recoveryMs / 1000} s`, async () => {
    const owners = new Ring(ids)
    const owned = (id: string): string[] => KILL_KEYS.filter((k) => owners.ownerOf(k) === id)
    const victim = [...ids].sort((a, b) => owned(b).length - owned(a).length)[0] as string
    const moved = new Set(owned(victim))
    expect(moved.size).toBeGreaterThanOrEqual(30)
    const survivors = ids.filter((id) => id !== victim)
    const received = new Map<string, string[]>()
    for (const id of ids) received.set(id, (await ring.subscriber(id)).received)

    // Five connections on each survivor; each carries some keys that move and some that stay.
    const slots = survivors.flatMap((id) => Array.from({ length: 5 }, () => ring.url(id)))
    const load = new Qos1Load({
      publishers: slots.map((url, i) => ({ url, keys: KILL_KEYS.filter((_, k) => k % slots.length === i) })),
      ratePerSec: OFFERED_PER_SEC, keyWindow: KEY_WINDOW, ackTimeoutMs: 12_000, rampMs: 1_000,
    })
    ring.onCleanup(() => load.close())
    const kill: { atMs: number } = { atMs: Infinity }
    const recovered = new Map<string, number>() // moved key → ms from the kill to the first ack of a publish sent after it
    load.onAck = (m) => {
      if (m.sentMs >= kill.atMs && moved.has(m.key) && !recovered.has(m.key)) recovered.set(m.key, (m.ackedMs as number) - kill.atMs)
    }
    await load.start()
    await sleep(1_500) // the ramp, and the first message of every key
    const steady = load.snapshot()
    await sleep(2_000)
    const beforeKill = ratesBetween(steady, load.snapshot())

    kill.atMs = performance.now()
    await stopHub(ring.hub(victim), 'SIGKILL')
    const deadAfterMs = await waitFor(async () => ((await ring.views(survivors)).every((v) => stateIn(v, victim) === 'dead') ? performance.now() - kill.atMs : undefined),
      `${victim} dead`, recoveryMs + 5_000, 20)
    // Long enough to see every moved key recover (or to fail), then a little steady state.
    await waitFor(() => recovered.size === moved.size, 'every moved key acknowledged again', recoveryMs + 5_000 - (performance.now() - kill.atMs), 20).catch(() => undefined)
    await sleep(1_000)
    await load.stop(15_000)
    const stats = load.stats()

    const acked = load.acked.map((m) => `${m.key}:${m.n}`)
    await waitFor(() => survivors.every((id) => { const got = new Set(received.get(id)); return acked.every((p) => got.has(p)) }),
      'every acknowledged message at the surviving subscribers', 20_000, 100).catch(() => undefined)
    const checks = new Map(ids.map((id) => [id, checkDeliveries(received.get(id) ?? [], load, id === victim ? [] : acked)]))
    for (const id of ids) {
      const lines = explainDeliveries(received.get(id) ?? [], load, id === victim ? [] : acked, kill.atMs)
      if (lines.length > 0) console.log(`subscriber on ${id}, times from the kill:\n  ${lines.join('\n  ')}`)
    }
    const counters = await Promise.all(survivors.map(async (id) => `${id}: ${await faultCounters(ring.admin(id))}`))
    const recoveries = [...recovered.values()]
    const worst = recoveries.length === moved.size ? Math.max(...recoveries) : Infinity
    console.log([
      `${profile}: kill -9 of ${victim}, owner of ${moved.size}/100 keys; dead in the survivors' views ${Math.round(deadAfterMs)} ms after the kill`,
      `offered ${OFFERED_PER_SEC} msg/s on ${slots.length} connections (${KEY_WINDOW} in flight per key at most); in the 2 s before the kill: ${beforeKill.sentPerSec} sent/s, ${beforeKill.ackedPerSec} acked/s`,
      `whole run ${stats.durationMs} ms: ${stats.sent} sent, ${stats.acked} acked, ${stats.unacked} unacked, ${stats.shed} shed (key windows full), ${stats.reconnects} reconnects`,
      `moved keys acknowledged again (a publish sent after the kill): first ${Math.round(Math.min(...recoveries))} ms, all ${recoveries.length}/${moved.size} by ${Math.round(worst)} ms after the kill (limit ${recoveryMs} ms)`,
      `hub counters: ${counters.join('; ')}`,
      ...[...checks].map(([id, c]) => describeCheck(id, c, id === victim ? ' (killed)' : '')),
    ].join('\n  '))

    expect(beforeKill.ackedPerSec, 'acknowledged msg/s before the kill').toBeGreaterThanOrEqual(MIN_ACKED_PER_SEC)
    expectClean(checks)
    expect(worst, 'ms until every moved key acknowledged a publish sent after the kill').toBeLessThanOrEqual(recoveryMs)
  }, 90_000)
})

// A 4th hub joins a ring of three holding 1000 keys, then leaves gracefully (SIGTERM); nine
// publisher connections on the three hubs that stay. Ownership comes from the admin APIs: the
// ring views (`GET /api/ring`: alive hubs, one checksum) give every key's owner, and each hub is
// asked for 200 keys (`GET /api/ring/owner`) to check that it names the same owner.
// - join: 25 % ± 5 points of the keys change owner, every one of them to the new hub;
// - leave: exactly the keys the leaving hub owned move, each back to its owner before the join;
// - no loss, phantoms or reorders at the subscribers of the three hubs that stay; the new hub's
//   subscriber, while the hub is a member, has no phantoms and no reorders either, and holds
//   every message sent after its SUBACK and acknowledged 300 ms or more before the SIGTERM;
// - every publish acknowledged.
const JOIN_KEYS = Array.from({ length: 1000 }, (_, i) => `devices/d${i}`)
const STAYING = ['ja', 'jb', 'jc']
const JOINER = 'jd'
const ALL = [...STAYING, JOINER]

describe('a 4th hub joins a ring of three holding 1000 keys under 2k msg/s QoS 1 load, then leaves', () => {
  const ring = new RingFixture([])

  beforeAll(async () => {
    await ring.spawn('ja')
    await Promise.all(['jb', 'jc'].map((id) => ring.spawn(id, 'ja')))
    await waitFor(async () => oneRing(await ring.views(STAYING), STAYING), 'one ring of three', 30_000, 50)
  }, 60_000)
  afterAll(() => ring.cleanup())

  /** Every key's owner from the agreeing ring views of `of`, checked against each hub's answers. */
  async function owners(of: readonly string[]): Promise<Map<string, string>> {
    const views = await waitFor(async () => { const v = await ring.views(of); return oneRing(v, of) ? v : undefined }, `one ring of ${of.join(', ')}`, 10_000, 50)
    const alive = (views[0] as RingView).members.filter((m) => m.state === 'alive' && m.meta.role === 'hub').map((m) => m.id)
    const byView = new Ring(alive)
    const result = new Map(JOIN_KEYS.map((k) => [k, byView.ownerOf(k) as string]))
    for (const [h, id] of of.entries()) {
      const asked = JOIN_KEYS.filter((_, i) => i % 5 === h % 5) // a different fifth per hub
      let mismatches = 0
      for (let i = 0; i < asked.length; i += 10) {
        const answers = await Promise.all(asked.slice(i, i + 10).map(async (k) => {
          const res = await fetch(`http://${ring.admin(id)}/api/ring/owner?topic=${encodeURIComponent(k)}`, { signal: AbortSignal.timeout(10_000) })
          return [k, ((await res.json()) as { owner: string }).owner] as const
        }))
        mismatches += answers.filter(([k, owner]) => owner !== result.get(k)).length
      }
      expect(mismatches, `keys whose owner ${id} names otherwise than the ring views`).toBe(0)
    }
    return result
  }
  const changed = (a: Map<string, string>, b: Map<string, string>): string[] => JOIN_KEYS.filter((k) => a.get(k) !== b.get(k))

  it('moves 25 % ± 5 points of the keys to it, only its keys back, and loses, invents and reorders nothing', async () => {
    const received = new Map<string, string[]>()
    for (const id of STAYING) received.set(id, (await ring.subscriber(id)).received)
    const slots = STAYING.flatMap((id) => [ring.url(id), ring.url(id), ring.url(id)])
    const load = new Qos1Load({
      publishers: slots.map((url, i) => ({ url, keys: JOIN_KEYS.filter((_, k) => k % slots.length === i) })),
      ratePerSec: OFFERED_PER_SEC, keyWindow: KEY_WINDOW, ackTimeoutMs: 12_000, rampMs: 1_000,
    })
    ring.onCleanup(() => load.close())
    await load.start()
    await sleep(1_500) // the ramp, and the first message of every key
    const steady = load.snapshot()
    await sleep(1_500)
    const rateThree = ratesBetween(steady, load.snapshot())
    const beforeJoin = await owners(STAYING)

    // Join.
    const joinAt = performance.now()
    await ring.spawn(JOINER, 'ja')
    await waitFor(async () => oneRing(await ring.views(ALL), ALL), 'one ring of four', 30_000, 50)
    const joinMs = performance.now() - joinAt
    const joiner = await ring.subscriber(JOINER)
    received.set(JOINER, joiner.received)
    const withJoiner = await owners(ALL)
    const movedIn = changed(beforeJoin, withJoiner)
    const steadyFour = load.snapshot()
    await sleep(3_000)
    const rateFour = ratesBetween(steadyFour, load.snapshot())
    const sequencedByJoiner = await counter(ring.admin(JOINER), 'ringhub_router_events_total', 'event="sequenced"')

    // Graceful leave.
    const leaveAt = performance.now()
    const exit = await stopHub(ring.hub(JOINER), 'SIGTERM')
    await waitFor(async () => oneRing(await ring.views(STAYING), STAYING), 'one ring of three again', 30_000, 50)
    const leaveMs = performance.now() - leaveAt
    const afterLeave = await owners(STAYING)
    const movedOut = changed(withJoiner, afterLeave)
    await sleep(2_000)
    await load.stop(15_000)
    const stats = load.stats()

    const acked = load.acked
    const ackedPayloads = acked.map((m) => `${m.key}:${m.n}`)
    await waitFor(() => STAYING.every((id) => { const got = new Set(received.get(id)); return ackedPayloads.every((p) => got.has(p)) }),
      'every acknowledged message at the subscribers of the staying hubs', 20_000, 100).catch(() => undefined)
    const joinerMustHave = acked.filter((m) => m.sentMs >= joiner.subAckAt && (m.ackedMs as number) <= leaveAt - 300).map((m) => `${m.key}:${m.n}`)
    const mustHave = (id: string): string[] => (id === JOINER ? joinerMustHave : ackedPayloads)
    const checks = new Map(ALL.map((id) => [id, checkDeliveries(received.get(id) ?? [], load, mustHave(id))]))
    for (const id of ALL) {
      const lines = explainDeliveries(received.get(id) ?? [], load, mustHave(id), leaveAt)
      if (lines.length > 0) console.log(`subscriber on ${id}, times from the SIGTERM (the join began ${Math.round(leaveAt - joinAt)} ms before it):\n  ${lines.join('\n  ')}`)
    }
    const counters = await Promise.all(STAYING.map(async (id) => `${id}: ${await faultCounters(ring.admin(id))}`))
    const backHome = JOIN_KEYS.every((k) => afterLeave.get(k) === beforeJoin.get(k))
    console.log([
      `join of ${JOINER}: one ring of four ${Math.round(joinMs)} ms after spawning it (hub start included); ${movedIn.length}/1000 keys changed owner (${(movedIn.length / 10).toFixed(1)} %), `
        + `to ${[...new Set(movedIn.map((k) => withJoiner.get(k)))].join(', ')}; ${JOINER} sequenced ${sequencedByJoiner} messages`,
      `leave of ${JOINER} (SIGTERM, exit ${exit.code ?? exit.signal}): one ring of three ${Math.round(leaveMs)} ms later; ${movedOut.length} keys changed owner, `
        + `${movedOut.filter((k) => withJoiner.get(k) === JOINER).length} of them ${JOINER}'s; all back with their owner from before the join: ${backHome}`,
      `offered ${OFFERED_PER_SEC} msg/s on ${slots.length} connections (${KEY_WINDOW} in flight per key at most): ${rateThree.sentPerSec} sent/s, ${rateThree.ackedPerSec} acked/s with three hubs; `
        + `${rateFour.sentPerSec} sent/s, ${rateFour.ackedPerSec} acked/s with four`,
      `whole run ${stats.durationMs} ms: ${stats.sent} sent, ${stats.acked} acked (${stats.ackedPerSec}/s), ${stats.unacked} unacked, ${stats.shed} shed (key windows full), ${stats.reconnects} reconnects`,
      `hub counters: ${counters.join('; ')}`,
      ...[...checks].map(([id, c]) => describeCheck(id, c, id === JOINER ? ` (while a member; ${joinerMustHave.length} expected)` : '')),
    ].join('\n  '))

    expect(exit.code, 'the leaving hub exits cleanly').toBe(0)
    expect(movedIn.length).toBeGreaterThanOrEqual(200)
    expect(movedIn.length).toBeLessThanOrEqual(300)
    expect(movedIn.filter((k) => withJoiner.get(k) !== JOINER), 'keys that moved elsewhere than to the new hub').toEqual([])
    expect([...movedOut].sort()).toEqual([...movedIn].sort())
    expect(backHome, 'every key back with its owner from before the join').toBe(true)
    expect(sequencedByJoiner, 'messages the new hub sequenced').toBeGreaterThan(0)
    expect(stats.ackedPerSec, 'acknowledged msg/s over the run').toBeGreaterThanOrEqual(MIN_ACKED_PER_SEC)
    expect(stats.unacked, 'publishes never acknowledged').toBe(0)
    expectClean(checks)
  }, 90_000)
})
