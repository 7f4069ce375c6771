import { createSocket } from 'node:dgram'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { REPO_ROOT, spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { counter, oneRing, ringOf as ringAt, stateIn } from '../helpers/admin.js'
import { waitFor } from '../helpers/wait.js'

// Real `ringhub hub` processes on loopback forming one ring (edge profile: fast detection).
const dirs = ['r1', 'r2', 'r3', 'r4'].map(() => tempDir())
const hubs = new Map<string, SpawnedHub>()

const adminOf = (id: string): string => `127.0.0.1:${(hubs.get(id) as SpawnedHub).ports.admin}`
const ringOf = (id: string): Promise<RingView> => ringAt(adminOf(id))
const metric = (id: string, name: string, labelRe?: string): Promise<number> => counter(adminOf(id), name, labelRe)

async function start(id: string, index: number, extra: string[] = []): Promise<SpawnedHub> {
  const seed = hubs.get('r1')
  const hub = await spawnHub(['--id', id, '--data', (dirs[index] as { path: string }).path, '--allow-anonymous', '--profile', 'edge',
    ...(seed && id !== 'r1' ? ['--join', `127.0.0.1:${seed.ports.gossip}`] : []), ...extra])
  hubs.set(id, hub)
  return hub
}

/** Every listed hub sees exactly `alive` alive and the same checksum. */
async function agreed(ids: string[], alive: string[]): Promise<RingView[] | undefined> {
  const views = await Promise.all(ids.map(ringOf))
  return oneRing(views, alive) ? views : undefined
}

beforeAll(async () => {
  await start('r1', 0)
  await Promise.all([start('r2', 1), start('r3', 2)])
})

afterAll(async () => {
  await Promise.all([...hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
  for (const d of dirs) d.remove()
})

describe('a ring of real hub processes', () => {
  it('forms one ring with equal checksums everywhere, and the CLI shows it', async () => {
    const views = await waitFor(() => agreed(['r1', 'r2', 'r3'], ['r1', 'r2', 'r3']), 'one ring of three', 10_000, 50)
    expect(views[0]?.members.map((m) => m.id)).toEqual(['r1', 'r2', 'r3'])
    const shares = views[0]?.members.reduce((s, m) => s + m.share, 0) ?? 0
    expect(shares).toBeCloseTo(1, 9)

    const admin = `127.0.0.1:${hubs.get('r2')?.ports.admin}`
    const status = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'status', '--admin', admin], { encoding: 'utf8', timeout: 10_000 })
    expect(status.status).toBe(0)
    expect(status.stdout).toContain(`ring ${views[0]?.checksum} as seen by r2`)
    expect(status.stdout.split('\n').filter((l) => / alive /.test(l))).toHaveLength(3)
    // Every hub links to the two others once their links are up (they dial as membership names them).
    await waitFor(() => {
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'links', '--admin', admin], { encoding: 'utf8', timeout: 10_000 })
      return r.status === 0 && r.stdout.startsWith('router links: all 6 up (3 hubs reporting: r1, r2, r3)') ? r.stdout : undefined
    }, 'ringhub ring links: all six up', 10_000, 200)
    const again = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'status', '--admin', admin], { encoding: 'utf8', timeout: 10_000 })
    expect(again.stdout).toContain('router links: all 6 up (3 hubs reporting: r1, r2, r3)')

    const owners = new Set<string>()
    for (const id of ['r1', 'r2', 'r3']) {
      const port = hubs.get(id)?.ports.admin
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'owner', 'devices/d42/telemetry', '--admin', `127.0.0.1:${port}`, '--json'], { encoding: 'utf8', timeout: 10_000 })
      const answer = JSON.parse(r.stdout) as { key: string, owner: string, replicas: string[] }
      expect(answer.key).toBe('devices/d42')
      expect(answer.replicas[0]).toBe(answer.owner)
      owners.add(answer.owner)
    }
    expect(owners.size).toBe(1)
  })

  it('keeps a hub stopped (SIGSTOP) for less than the suspicion timeout: nobody declares it dead', async () => {
    const r2 = hubs.get('r2') as SpawnedHub
    const deathsBefore = await metric('r1', 'ringhub_membership_events_total', 'event="memberDied"') + await metric('r3', 'ringhub_membership_events_total', 'event="memberDied"')
    r2.child.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, 400))
    r2.child.kill('SIGCONT')
    await waitFor(() => agreed(['r1', 'r2', 'r3'], ['r1', 'r2', 'r3']), 'ring whole again', 10_000, 50)
    // A suspect counts in the ring: its refutation may still be on its way when the ring is whole.
    await waitFor(async () => (await Promise.all(['r1', 'r3'].map(ringOf))).every((v) => stateIn(v, 'r2') === 'alive'), 'r2 alive in every view', 10_000, 50)
    const deathsAfter = await metric('r1', 'ringhub_membership_events_total', 'event="memberDied"') + await metric('r3', 'ringhub_membership_events_total', 'event="memberDied"')
    expect(deathsAfter).toBe(deathsBefore)
  })

  it('marks a hub killed with -9 dead within 2 s (edge), and takes it back at a higher incarnation when it restarts', async () => {
    const before = (await ringOf('r1')).members.find((m) => m.id === 'r3')?.incarnation as number
    const gossipPort = (hubs.get('r3') as SpawnedHub).ports.gossip
    const killedAt = performance.now()
    await stopHub(hubs.get('r3') as SpawnedHub, 'SIGKILL')
    await waitFor(async () => (await Promise.all(['r1', 'r2'].map(ringOf))).every((v) => stateIn(v, 'r3') === 'dead'), 'r3 dead everywhere', 10_000, 20)
    const detectedMs = performance.now() - killedAt
    console.log(`edge, 3 processes: kill -9 → dead in every view after ${Math.round(detectedMs)} ms`)
    expect(detectedMs).toBeLessThan(2_000)

    // Same data dir and gossip port, as a service restarts (a new address would wait for the
    // dead-member reclaim time: see the simulator test).
    await start('r3', 2, ['--gossip', String(gossipPort)])
    const views = await waitFor(() => agreed(['r1', 'r2', 'r3'], ['r1', 'r2', 'r3']), 'r3 back', 10_000, 50)
    expect(views[0]?.members.find((m) => m.id === 'r3')?.incarnation).toBeGreaterThan(before)
  })

  it('never lets in a hub with another gossip key, and counts its packets as rejected', async () => {
    const rejectedBefore = await metric('r1', 'ringhub_gossip_rejected_total')
    const key = Buffer.alloc(32, 7).toString('base64')
    await start('r4', 3, ['--gossip-key', key])
    await new Promise((r) => setTimeout(r, 1_500))
    const views = await Promise.all(['r1', 'r2', 'r3'].map(ringOf))
    for (const v of views) expect(stateIn(v, 'r4')).toBeUndefined()
    const r4 = await ringOf('r4')
    expect(r4.members.map((m) => m.id)).toEqual(['r4'])
    expect(await metric('r1', 'ringhub_gossip_rejected_total')).toBeGreaterThan(rejectedBefore)
    await stopHub(hubs.get('r4') as SpawnedHub, 'SIGKILL')
    hubs.delete('r4')
  })

  it('never lets in a hub with another cluster label, and counts its packets as label mismatches', async () => {
    const before = await metric('r1', 'ringhub_gossip_rejected_total', 'reason="label-mismatch"')
    await start('r4', 3, ['--cluster-label', 'other-site'])
    await waitFor(async () => (await metric('r1', 'ringhub_gossip_rejected_total', 'reason="label-mismatch"')) > before, 'labelled packets refused', 5_000, 50)
    const views = await Promise.all(['r1', 'r2', 'r3'].map(ringOf))
    for (const v of views) expect(stateIn(v, 'r4')).toBeUndefined()
    expect((await ringOf('r4')).members.map((m) => m.id)).toEqual(['r4'])
    await stopHub(hubs.get('r4') as SpawnedHub, 'SIGKILL')
    hubs.delete('r4')
  })

  it('counts garbage datagrams on the gossip port and changes nothing', async () => {
    const r1 = hubs.get('r1') as SpawnedHub
    const port = r1.ports.gossip
    const rejectedBefore = await metric('r1', 'ringhub_gossip_rejected_total')
    const eventsBefore = await metric('r1', 'ringhub_membership_events_total')
    const socket = createSocket('udp4')
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + (i % 300) }, (_, j) => (i * 31 + j * 7) & 0xff))
      await new Promise<void>((resolve) => socket.send(junk, port, '127.0.0.1', () => resolve()))
    }
    socket.close()
    await waitFor(async () => (await metric('r1', 'ringhub_gossip_rejected_total')) >= rejectedBefore + 200, 'garbage counted', 5_000, 50)
    expect(await metric('r1', 'ringhub_membership_events_total')).toBe(eventsBefore)
    await waitFor(() => agreed(['r1', 'r2', 'r3'], ['r1', 'r2', 'r3']), 'ring unchanged', 5_000, 50)
  })
})
