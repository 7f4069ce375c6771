import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import { Ring } from '../../hub/src/ring/ring.js'
import { counter, oneRing, ringOf } from '../helpers/admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// A hub wrongly declared dead (here: stopped with SIGSTOP past the edge profile's suspicion
// timeout, as a long GC pause or a starved CPU does) refutes when it runs again and keeps its
// subscriptions. The other hubs must send it their keys' messages again at once, not only after
// its next periodic interest refresh (30 s): its subscribers would miss every message acknowledged
// meanwhile. Three hub processes, edge profile.
const ids = ['fa', 'fb', 'fc']
const dirs = ids.map(() => tempDir())
const hubs = new Map<string, SpawnedHub>()
const clients: MqttClient[] = []
const hubOf = (id: string): SpawnedHub => hubs.get(id) as SpawnedHub
const admin = (id: string): string => `127.0.0.1:${hubOf(id).ports.admin}`
const url = (id: string): string => `mqtt://127.0.0.1:${hubOf(id).ports.mqtt}`
const keyOwnedBy = (owner: string): string => {
  for (let i = 0; ; i++) if (new Ring(ids).ownerOf(`devices/d${i}`) === owner) return `devices/d${i}`
}
const ringWhole = async (): Promise<boolean> => oneRing(await Promise.all(ids.map((id) => ringOf(admin(id)))), ids)

beforeAll(async () => {
  const args = (id: string, i: number): string[] => ['--id', id, '--data', (dirs[i] as { path: string }).path, '--allow-anonymous', '--profile', 'edge']
  const first = await spawnHub(args('fa', 0))
  hubs.set('fa', first)
  await Promise.all(['fb', 'fc'].map(async (id, i) => { hubs.set(id, await spawnHub([...args(id, i + 1), '--join', `127.0.0.1:${first.ports.gossip}`])) }))
  await waitFor(ringWhole, 'one ring of three', 15_000, 50)
})

afterAll(async () => {
  await close(...clients)
  for (const h of hubs.values()) if (h.child.exitCode === null) h.child.kill('SIGCONT')
  await Promise.all([...hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
  for (const d of dirs) d.remove()
})

describe('a hub wrongly declared dead', () => {
  it('gets the messages of the other hubs\' keys again as soon as it is back', async () => {
    const sub = await connect(url('fb'), { clientId: 'sub-fb', clean: true })
    clients.push(sub)
    const got: string[] = []
    sub.on('message', (_topic, payload) => got.push(payload.toString()))
    await sub.subscribeAsync('devices/#', { qos: 1 })
    const key = keyOwnedBy('fc')
    const pub = await connect(url('fc'), { clientId: 'pub-fc' })
    clients.push(pub)
    await pub.publishAsync(`${key}/t`, 'before', { qos: 1 })
    await waitFor(() => got.includes('before'), 'the first message at fb', 5_000)

    const deathsBefore = await counter(admin('fc'), 'ringhub_membership_events_total', 'event="memberDied"')
    hubOf('fb').child.kill('SIGSTOP')
    await waitFor(async () => (await counter(admin('fc'), 'ringhub_membership_events_total', 'event="memberDied"')) > deathsBefore, 'fb declared dead by fc', 10_000, 50)
    hubOf('fb').child.kill('SIGCONT')
    const backAt = performance.now()
    await waitFor(ringWhole, 'fb back in every view', 10_000, 50)
    expect(await counter(admin('fb'), 'ringhub_membership_events_total', 'event="selfRefuted"')).toBeGreaterThanOrEqual(1)

    await pub.publishAsync(`${key}/t`, 'after', { qos: 1 })
    await waitFor(() => got.includes('after'), 'the message acknowledged after fb came back, at fb', 5_000, 20)
    console.log(`fb back in every view ${Math.round(performance.now() - backAt)} ms after SIGCONT; a message of fc's key reached its subscriber again`)
  }, 45_000)
})
