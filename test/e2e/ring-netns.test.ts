import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { counter, oneRing, ringOf, stateIn } from '../helpers/admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { TestNet } from '../helpers/netns.js'
import { waitFor } from '../helpers/wait.js'

// Three hubs as real processes on three test hosts (network namespaces on one bridge), each
// binding 0.0.0.0 and advertising its host address, as behind NAT or in a container. Faults come
// from iptables inside the hosts and from taking a host's link down. Edge profile: fast
// detection (probe 200 ms, push-pull 10 s). Inside its own namespace each hub may use the
// default gossip port: nothing else runs there.
const HOSTS = 3
const GOSSIP_PORT = 7946
const ids = Array.from({ length: HOSTS }, (_, i) => `n${i + 1}`)
const dirs = ids.map(() => tempDir())
const hubs = new Map<number, SpawnedHub>()
let net: TestNet

const adminOf = (i: number): string => `${net.address(i)}:${(hubs.get(i) as SpawnedHub).ports.admin}`
// The test reaches the hubs from outside their hosts, not over loopback: the admin API wants a token.
const ADMIN_TOKEN = 'netns-test-token'
const viewsOf = (hosts: readonly number[]): Promise<RingView[]> => Promise.all(hosts.map((i) => ringOf(adminOf(i), ADMIN_TOKEN)))
const total = async (hosts: readonly number[], event: string): Promise<number> =>
  (await Promise.all(hosts.map((i) => counter(adminOf(i), 'ringhub_membership_events_total', `event="${event}"`)))).reduce((a, b) => a + b, 0)

async function start(i: number): Promise<SpawnedHub> {
  const hub = await spawnHub([
    '--id', ids[i - 1] as string, '--data', (dirs[i - 1] as { path: string }).path, '--allow-anonymous', '--profile', 'edge', '--admin-token', ADMIN_TOKEN,
    '--host', '0.0.0.0', '--advertise', net.address(i), '--gossip', String(GOSSIP_PORT),
    ...(i === 1 ? [] : ['--join', `${net.address(1)}:${GOSSIP_PORT}`]),
  ], { wrap: net.wrap(i) })
  hubs.set(i, hub)
  return hub
}

async function whole(): Promise<RingView[] | undefined> {
  const views = await viewsOf([1, 2, 3])
  return oneRing(views, ids) ? views : undefined
}

beforeAll(async () => {
  const why = TestNet.unavailable()
  if (why) throw new Error(`cannot make test hosts: ${why}`)
  net = TestNet.up(`rh${process.pid % 100_000}`, HOSTS)
  await start(1)
  await Promise.all([start(2), start(3)])
})

afterAll(async () => {
  await Promise.all([...hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
  net?.down()
  for (const d of dirs) d.remove()
})

describe('a ring on three test hosts (network namespaces)', () => {
  it('forms one ring over the advertised addresses', async () => {
    const views = await waitFor(whole, 'one ring of three', 15_000, 100)
    for (const [index, id] of ids.entries()) {
      const member = views[0]?.members.find((m) => m.id === id)
      expect(member?.addresses.gossip).toBe(`${net.address(index + 1)}:${GOSSIP_PORT}`)
      expect(member?.addresses.mqtt).toMatch(new RegExp(`^${net.address(index + 1).replace(/\./g, '\\.')}:\\d+$`))
    }
  })

  it('marks a host whose hub is killed with -9 dead within 2 s, and takes the hub back at a higher incarnation on restart', async () => {
    const before = (await viewsOf([1]))[0]?.members.find((m) => m.id === 'n2')?.incarnation as number
    const killedAt = performance.now()
    await stopHub(hubs.get(2) as SpawnedHub, 'SIGKILL')
    await waitFor(async () => (await viewsOf([1, 3])).every((v) => stateIn(v, 'n2') === 'dead'), 'n2 dead for n1 and n3', 10_000, 20)
    const detectedMs = performance.now() - killedAt
    console.log(`edge, 3 hosts: kill -9 → dead in every view after ${Math.round(detectedMs)} ms`)
    expect(detectedMs).toBeLessThan(2_000)
    await start(2)
    const views = await waitFor(whole, 'n2 back', 15_000, 100)
    expect(views[0]?.members.find((m) => m.id === 'n2')?.incarnation).toBeGreaterThan(before)
  }, 30_000)
  it('declares nobody dead when two hosts cannot reach each other but both reach the third (indirect probes)', async () => {
    const deathsBefore = await total([1, 2, 3], 'memberDied')
    const suspectsBefore = await total([1, 2, 3], 'memberSuspected')
    net.partition(1, 3)
    try {
      await new Promise((r) => setTimeout(r, 6_000)) // 30 probe rounds; the Lifeguard maximum is 3.6 s
      expect(await total([1, 2, 3], 'memberDied')).toBe(deathsBefore)
      // A slow indirect probe on a loaded machine may raise a suspicion that the suspect then
      // refutes through n2; a snapshot taken during that second sees a suspect or two checksums.
      // What must hold is that nobody dies and the views agree again, still partitioned.
      await waitFor(whole, 'one ring while n1 and n3 cannot reach each other', 5_000, 50)
      console.log(`edge, n1 and n3 partitioned for 6 s: ${await total([1, 2, 3], 'memberSuspected') - suspectsBefore} suspicions, all refuted`)
    } finally {
      net.heal()
    }
  })

  it('declares nobody dead under 10 % loss on every hub-to-hub path for 15 s', async () => {
    const deathsBefore = await total([1, 2, 3], 'memberDied')
    const suspectsBefore = await total([1, 2, 3], 'memberSuspected')
    // Loss is set per host, on what it sends and what it receives, so a path between two hosts
    // loses 1 − (1 − p)²: p = 5.13 % per host makes the 10 % per link that issue 3 asks about.
    for (let i = 1; i <= HOSTS; i++) net.loss(i, 5.13)
    try {
      await new Promise((r) => setTimeout(r, 15_000))
    } finally {
      net.heal()
    }
    const suspicions = await total([1, 2, 3], 'memberSuspected') - suspectsBefore
    console.log(`edge, 3 hosts, 10 % loss per hub-to-hub path for 15 s: ${suspicions} suspicions, all refuted`)
    expect(await total([1, 2, 3], 'memberDied')).toBe(deathsBefore)
    await waitFor(whole, 'ring whole after the loss', 10_000, 100)
  }, 30_000)

  it('declares an isolated host dead on both sides, and heals into one ring when its link returns', async () => {
    const n3DeathsBefore = await total([3], 'memberDied')
    net.isolate(3)
    try {
      await waitFor(async () => (await viewsOf([1, 2])).every((v) => stateIn(v, 'n3') === 'dead'), 'n3 dead for n1 and n2', 10_000, 100)
      // n3 cannot be asked while cut off; alone, nobody confirms its suspicions, so it needs
      // the Lifeguard maximum (6 × 600 ms) to declare the others dead.
      await new Promise((r) => setTimeout(r, 5_000))
    } finally {
      net.heal()
    }
    const healedAt = performance.now()
    await waitFor(whole, 'one ring after the link returns', 30_000, 100)
    const views = await viewsOf([3])
    console.log(`edge, isolated host: one ring again ${Math.round(performance.now() - healedAt)} ms after its link returned`)
    // n3 itself saw the others die while cut off (nobody answered it), then took them back.
    expect(await total([3], 'memberDied') - n3DeathsBefore).toBe(2)
    expect(views[0]?.members.filter((m) => m.state === 'alive')).toHaveLength(3)
  }, 45_000)

})
