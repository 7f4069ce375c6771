import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { LAN_PROFILE } from '../../hub/src/membership/profiles.js'
import { suspicionBoundsMs } from '../../hub/src/membership/suspicion.js'
import { counter, oneRing, ringOf, stateIn } from '../helpers/admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { waitFor } from '../helpers/wait.js'

// Five real `ringhub hub` processes on loopback with the default `lan` profile (memberlist's
// LAN timing: probe 1 s, minimum suspicion 4 s at N = 5).
const N = 5
const ids = Array.from({ length: N }, (_, i) => `l${i + 1}`)
const dirs = ids.map(() => tempDir())
const hubs = new Map<string, SpawnedHub>()
let spawnedAt = 0
const adminOf = (id: string): string => `127.0.0.1:${(hubs.get(id) as SpawnedHub).ports.admin}`
const viewsOf = (of: readonly string[]): Promise<RingView[]> => Promise.all(of.map((id) => ringOf(adminOf(id))))
const deaths = async (of: readonly string[]): Promise<number> =>
  (await Promise.all(of.map((id) => counter(adminOf(id), 'ringhub_membership_events_total', 'event="memberDied"')))).reduce((a, b) => a + b, 0)

beforeAll(async () => {
  const first = await spawnHub(['--id', 'l1', '--data', (dirs[0] as { path: string }).path, '--allow-anonymous'])
  hubs.set('l1', first)
  await Promise.all(ids.slice(1).map(async (id, i) => {
    hubs.set(id, await spawnHub(['--id', id, '--data', (dirs[i + 1] as { path: string }).path, '--allow-anonymous', '--join', `127.0.0.1:${first.ports.gossip}`]))
  }))
  spawnedAt = performance.now()
})

afterAll(async () => {
  await Promise.all([...hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
  for (const d of dirs) d.remove()
})

describe('five hub processes with the lan profile', () => {
  it('form one ring with one checksum, each hub owning about a fifth of the keyspace', async () => {
    // Four hubs join through one seed at once; gossip usually spreads them within a second, and
    // lan's push-pull (every 30 s) is the guarantee when a loaded machine loses some of it.
    const views = await waitFor(async () => { const v = await viewsOf(ids); return oneRing(v, ids) ? v : undefined }, 'one ring of five', 40_000, 100)
    console.log(`lan, 5 processes: one ring with one checksum ${Math.round(performance.now() - spawnedAt)} ms after the last hub started`)
    for (const m of views[0]?.members ?? []) {
      expect(m.share).toBeGreaterThan(0.1)
      expect(m.share).toBeLessThan(0.3)
    }
  }, 45_000)

  it('declare nobody dead when a hub is stopped (SIGSTOP) for 2 s, half the minimum suspicion timeout', async () => {
    const before = await deaths(ids)
    const l4 = hubs.get('l4') as SpawnedHub
    l4.child.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, 2_000))
    l4.child.kill('SIGCONT')
    await new Promise((r) => setTimeout(r, 6_000)) // a suspicion started meanwhile would have ended in a death by now
    const after = await deaths(ids)
    // Failed once in CI with the whole suite running (1 death): say who declared whom dead, and
    // what the hubs said about stalls, so the next failure explains itself.
    if (after !== before) {
      for (const [id, h] of hubs) for (const line of h.output.filter((l) => /declared dead|stall|suspect|refut/i.test(l))) console.log(`${id}: ${line}`)
    }
    expect(after).toBe(before)
    // Suspicions (refuted) may still be settling on a loaded machine; nobody was declared dead.
    await waitFor(async () => oneRing(await viewsOf(ids), ids), 'the ring whole', 10_000, 100)
    expect(await deaths(ids)).toBe(before)
  }, 30_000)

  it('mark a hub killed with -9 dead everywhere within the lan bound', async () => {
    const { minMs } = suspicionBoundsMs({ n: N, suspicionMult: LAN_PROFILE.suspicionMult, probeIntervalMs: LAN_PROFILE.probeIntervalMs, suspicionMaxTimeoutMult: LAN_PROFILE.suspicionMaxTimeoutMult })
    const others = ids.filter((id) => id !== 'l2')
    const killedAt = performance.now()
    await stopHub(hubs.get('l2') as SpawnedHub, 'SIGKILL')
    await waitFor(async () => (await viewsOf(others)).every((v) => stateIn(v, 'l2') === 'dead'), 'l2 dead everywhere', 20_000, 50)
    const detectedMs = performance.now() - killedAt
    // Expected about 6 s (first probe + failed probe + 4 s suspicion); the worst case waits a
    // whole shuffled probe round for the first probe and the confirmations (docs/membership.md,
    // "Detection with lan"): minimum suspicion + N probe intervals.
    const boundMs = minMs + N * LAN_PROFILE.probeIntervalMs
    console.log(`lan, 5 processes: kill -9 → dead in every view after ${Math.round(detectedMs)} ms (expected ≈ 6 s, bound ${boundMs} ms)`)
    expect(detectedMs).toBeLessThan(boundMs)
    expect(detectedMs).toBeGreaterThan(minMs) // never before the minimum suspicion timeout
  }, 30_000)
})
