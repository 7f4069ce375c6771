import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { oneRing, stateIn } from '../helpers/admin.js'
import { REPO_ROOT, stopHub } from '../helpers/hubs.js'
import { collect, connect } from '../helpers/mqtt.js'
import { RingFixture } from '../helpers/ring-fixture.js'
import { waitFor } from '../helpers/wait.js'

// A two-hub ring of real processes (edge profile) whose other hub crashed acknowledges no QoS 1
// message (nobody else could hold a copy) until an operator forgets the crashed hub through the
// admin API (`POST /api/ring/members/<id>/forget`); then the survivor goes on alone, and the
// crashed hub, restarted, is a member again.
const ring = new RingFixture(['--profile', 'edge'])

beforeAll(async () => {
  await ring.spawn('fa')
  await ring.spawn('fb', 'fa')
  await waitFor(async () => oneRing(await ring.views(['fa', 'fb']), ['fa', 'fb']), 'one ring of two', 15_000, 50)
})

afterAll(() => ring.cleanup())

async function forget(via: string, id: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`http://${ring.admin(via)}/api/ring/members/${encodeURIComponent(id)}/forget`, { method: 'POST', signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function stateAt(via: string, id: string): Promise<string | undefined> {
  return stateIn((await ring.views([via]))[0] as RingView, id)
}

/** A QoS 1 publish, and whether (and when) it was acknowledged. */
function publish(client: MqttClient, topic: string, payload: string): { acked: () => boolean } {
  let acked = false
  client.publish(topic, payload, { qos: 1 }, (err) => { if (!err) acked = true })
  return { acked: () => acked }
}

describe('forgetting a crashed hub (two-hub ring)', () => {
  it('refuses to forget a live hub, this hub, or an unknown one', async () => {
    expect(await forget('fa', 'fb')).toMatchObject({ status: 409, body: { error: expect.stringMatching(/fb is alive .*only a hub held dead/) } })
    expect((await forget('fa', 'fa')).status).toBe(409)
    expect((await forget('fa', 'nobody')).status).toBe(404)
    expect(oneRing(await ring.views(['fa', 'fb']), ['fa', 'fb'])).toBe(true)
  })

  it('acknowledges nothing while the other hub is dead, everything once it is forgotten, and takes it back when it restarts', async () => {
    const own = await ring.keyOwnedBy('fa', 'own')
    const theirs = await ring.keyOwnedBy('fb', 'theirs', 'fa')
    const sub = await connect(ring.url('fa'), { clientId: 'forget-sub' })
    ring.clients.push(sub)
    const got = collect(sub)
    await sub.subscribeAsync('devices/#', { qos: 1 })
    const pub = await connect(ring.url('fa'), { clientId: 'forget-pub' })
    ring.clients.push(pub)
    await pub.publishAsync(`${own}/t`, 'before', { qos: 1 })

    const gossipPort = ring.hub('fb').ports.gossip
    await stopHub(ring.hub('fb'), 'SIGKILL')
    await waitFor(async () => await stateAt('fa', 'fb') === 'dead', 'fb dead at fa', 10_000, 20)
    const a = publish(pub, `${own}/t`, 'while-dead')
    await new Promise((r) => setTimeout(r, 2_000))
    expect(a.acked(), 'nobody else could hold a copy: not acknowledged').toBe(false)

    const forgotAt = performance.now()
    expect(await forget('fa', 'fb')).toEqual({ status: 200, body: { member: 'fb', state: 'left', was: 'dead' } })
    expect(await stateAt('fa', 'fb')).toBe('left')
    await waitFor(() => a.acked(), 'the waiting publish acknowledged', 5_000, 20)
    console.log(`forgotten → the waiting QoS 1 publish acknowledged after ${Math.round(performance.now() - forgotAt)} ms`)
    const b = publish(pub, `${theirs}/t`, 'dead-hubs-key')
    await waitFor(() => b.acked(), 'a key of the forgotten hub acknowledged', 5_000, 20)
    await waitFor(() => got.length >= 3, 'three deliveries', 5_000, 20)
    expect(got.map((m) => m.payload)).toEqual(['before', 'while-dead', 'dead-hubs-key'])
    expect((await forget('fa', 'fb')).body, 'asked again').toEqual({ member: 'fb', state: 'left', was: 'left' })
    const cli = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'forget', 'fb', '--admin', ring.admin('fa')], { encoding: 'utf8', timeout: 10_000 })
    expect(cli.status).toBe(0)
    expect(cli.stdout).toContain('fb had left the ring already')
    const refused = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'ring', 'forget', 'fa', '--admin', ring.admin('fa')], { encoding: 'utf8', timeout: 10_000 })
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('fa is this hub')

    // Restarted (same data and gossip port): a member again at a newer incarnation; copies go to it.
    await ring.spawn('fb', 'fa', ['--gossip', String(gossipPort)])
    await waitFor(async () => oneRing(await ring.views(['fa', 'fb']), ['fa', 'fb']), 'fb back', 15_000, 50)
    await pub.publishAsync(`${theirs}/t`, 'after', { qos: 1 })
    await waitFor(() => got.length >= 4, 'the fourth delivery', 5_000, 20)
    expect(got.at(-1)?.payload).toBe('after')
  })
})
