import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnHub, startHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { counter, oneRing, ringOf } from '../helpers/admin.js'
import { waitFor } from '../helpers/wait.js'

const OLD = randomBytes(32).toString('base64')
const NEW = randomBytes(32).toString('base64')
const dirs: Array<{ path: string, remove: () => void }> = []
const spawned: SpawnedHub[] = []

afterAll(async () => {
  await Promise.all(spawned.map((h) => stopHub(h, 'SIGKILL')))
  for (const d of dirs) d.remove()
})

const adminOf = (hub: SpawnedHub): string => `127.0.0.1:${hub.ports.admin}`

/** Suspicions, deaths and authentication failures a hub has counted: all must stay put. */
async function flaps(hubs: SpawnedHub[]): Promise<{ suspected: number, died: number, authFailed: number }> {
  const per = await Promise.all(hubs.map(async (h) => ({
    suspected: await counter(adminOf(h), 'ringhub_membership_events_total', 'event="memberSuspected"'),
    died: await counter(adminOf(h), 'ringhub_membership_events_total', 'event="memberDied"'),
    authFailed: await counter(adminOf(h), 'ringhub_gossip_rejected_total', 'reason="auth-failed"'),
  })))
  return per.reduce((a, b) => ({ suspected: a.suspected + b.suspected, died: a.died + b.died, authFailed: a.authFailed + b.authFailed }))
}

async function whole(hubs: SpawnedHub[], ids: string[]): Promise<boolean> {
  return oneRing(await Promise.all(hubs.map((h) => ringOf(adminOf(h)))), ids)
}

describe('gossip key rotation at run time (SIGHUP re-reads the YAML file)', () => {
  it('rotates install → use → remove on a running ring of three without a suspicion, a death or a failed packet', async () => {
    const configs = ['k1', 'k2', 'k3'].map((id) => {
      const dir = tempDir()
      dirs.push(dir)
      return { id, dir: dir.path, file: join(dir.path, 'ringhub.yaml') }
    })
    const writeKeys = (keys: string[]): void => {
      for (const c of configs) writeFileSync(c.file, `gossipKeys:\n${keys.map((k) => `  - ${k}\n`).join('')}`)
    }
    writeKeys([OLD])
    const start = async (c: typeof configs[number], seed?: SpawnedHub): Promise<SpawnedHub> => {
      const hub = await spawnHub(['--id', c.id, '--data', c.dir, '--config', c.file, '--profile', 'edge', '--allow-anonymous',
        ...(seed ? ['--join', `127.0.0.1:${seed.ports.gossip}`] : [])])
      spawned.push(hub)
      return hub
    }
    const first = await start(configs[0] as typeof configs[number])
    const hubs = [first, ...await Promise.all(configs.slice(1).map((c) => start(c, first)))]
    await waitFor(() => whole(hubs, ['k1', 'k2', 'k3']), 'one ring of three under OLD', 10_000, 50)
    const before = await flaps(hubs)

    // Each step on every hub, then a few probe rounds (edge: 200 ms) of traffic under it.
    let reloads = 0
    for (const keys of [[OLD, NEW], [NEW, OLD], [NEW]]) {
      writeKeys(keys)
      reloads++
      for (const h of hubs) h.child.kill('SIGHUP')
      await waitFor(() => hubs.every((h) => h.output.filter((l) => l.includes('"gossip keyring changed"')).length === reloads), `step ${reloads} applied everywhere`, 5_000, 20)
      await new Promise((r) => setTimeout(r, 1_500))
    }
    expect(await flaps(hubs)).toEqual(before)
    expect(await whole(hubs, ['k1', 'k2', 'k3'])).toBe(true)

    // The ring now speaks NEW only: a hub with OLD alone is refused (and that is counted),
    // one with NEW joins.
    const lateOld = tempDir()
    const lateNew = tempDir()
    dirs.push(lateOld, lateNew)
    const withOld = await spawnHub(['--id', 'k4', '--data', lateOld.path, '--profile', 'edge', '--gossip-key', OLD, '--join', `127.0.0.1:${first.ports.gossip}`])
    spawned.push(withOld)
    await waitFor(async () => (await flaps(hubs)).authFailed > before.authFailed, 'packets under OLD refused', 5_000, 50)
    const withNew = await spawnHub(['--id', 'k5', '--data', lateNew.path, '--profile', 'edge', '--gossip-key', NEW, '--join', `127.0.0.1:${first.ports.gossip}`])
    spawned.push(withNew)
    await waitFor(() => whole([...hubs, withNew], ['k1', 'k2', 'k3', 'k5']), 'k5 joined under NEW', 10_000, 50)
    const view = await ringOf(adminOf(first))
    expect(view.members.find((m) => m.id === 'k4')).toBeUndefined()
  })
})

describe('Hub.reload', () => {
  it('applies key changes step by step, refuses switching encryption on or off, and names options that need a restart', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const hub = await startHub(dir.path, { gossipKeys: [OLD] })
    try {
      expect(hub.cluster.useGossipKeys([OLD, NEW])).toEqual({ installed: 1, removed: 0, primaryChanged: false })
      expect(hub.cluster.useGossipKeys([NEW, OLD])).toEqual({ installed: 0, removed: 0, primaryChanged: true })
      expect(hub.cluster.useGossipKeys([NEW])).toEqual({ installed: 0, removed: 1, primaryChanged: false })
      expect(() => hub.cluster.useGossipKeys([])).toThrow(/needs a restart/)
      const next = { ...hub.config, gossipKeys: [OLD, NEW], mqtt: 1, logLevel: 'warn' as const }
      const { applied, needRestart } = hub.reload(next)
      expect(applied.sort()).toEqual(['gossipKeys', 'logLevel'])
      expect(needRestart).toEqual(['mqtt'])
      expect(hub.config.gossipKeys).toEqual([OLD, NEW])
      expect(hub.config.mqtt).not.toBe(1)
    } finally {
      await hub.stop()
    }
    const plain = await startHub(dir.path, { id: 'plain' })
    try {
      expect(() => plain.reload({ ...plain.config, gossipKeys: [NEW] })).toThrow(/needs a restart/)
      expect(plain.config.gossipKeys).toEqual([])
    } finally {
      await plain.stop()
    }
  })
})
