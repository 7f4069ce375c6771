import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { oneRing, ringOf, stateIn } from '../helpers/admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Three hub processes (edge profile). Publishers on A and C send QoS 1 messages to 100 keys,
// each carrying "key:n" with n counting up per key; subscribers on A and C take `devices/#`.
// B, the owner of about a third of the keys, is killed with -9 in the middle. Every message a
// publisher saw acknowledged must reach both subscribers (nothing lost), nothing arrives that
// was never sent (no phantoms), and per key each subscriber sees the numbers in increasing
// order (QoS 1 may repeat one: repeats are counted, not reordering). Load: each publisher waits
// for every PUBACK, a few hundred msg/s in all (the 2k msg/s is for the benchmark harness).
const ids = ['fa', 'fb', 'fc']
const dirs = ids.map(() => tempDir())
const hubs = new Map<string, SpawnedHub>()
const clients: MqttClient[] = []
const KEYS = Array.from({ length: 100 }, (_, i) => `devices/k${i}`)
const admin = (id: string): string => `127.0.0.1:${(hubs.get(id) as SpawnedHub).ports.admin}`

beforeAll(async () => {
  const first = await spawnHub(['--id', 'fa', '--data', (dirs[0] as { path: string }).path, '--allow-anonymous', '--profile', 'edge'])
  hubs.set('fa', first)
  for (const [i, id] of ids.slice(1).entries()) {
    hubs.set(id, await spawnHub(['--id', id, '--data', (dirs[i + 1] as { path: string }).path, '--allow-anonymous', '--profile', 'edge', '--join', `127.0.0.1:${first.ports.gossip}`]))
  }
  await waitFor(async () => oneRing(await Promise.all(ids.map((id) => ringOf(admin(id)))), ids), 'one ring of three', 15_000, 50)
})

afterAll(async () => {
  await close(...clients)
  await Promise.all([...hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
  for (const d of dirs) d.remove()
})

/** Rejects when `promise` has not settled within `ms` (mqtt.js never settles a publish whose
 *  connection dropped without reconnecting). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    promise.then((v) => { clearTimeout(timer); resolve(v) }, (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))) })
  })
}

describe('kill -9 of a key owner under QoS 1 load', () => {
  it('loses no acknowledged message, invents none, keeps per-key order, and acks the moved keys again within 3 s', async () => {
    const ring = new Ring(ids)
    const moved = KEYS.filter((k) => ring.ownerOf(k) === 'fb')
    expect(moved.length).toBeGreaterThanOrEqual(20)
    const received = new Map<string, string[]>() // subscriber → payloads in arrival order
    for (const id of ['fa', 'fc']) {
      const sub = await connect(`mqtt://127.0.0.1:${(hubs.get(id) as SpawnedHub).ports.mqtt}`, { clientId: `sub-${id}`, clean: true })
      clients.push(sub)
      const list: string[] = []
      received.set(id, list)
      sub.on('message', (_topic, payload) => list.push(payload.toString()))
      await sub.subscribeAsync('devices/#', { qos: 1 })
    }
    const acked = new Set<string>()
    const sent = new Set<string>()
    let firstAckAfterKillMs: number | undefined
    const kill: { atMs?: number } = {}
    const counters = new Map<string, number>()
    let running = true
    const publishers = await Promise.all(['fa', 'fc'].map(async (id, p) => {
      const pub = await connect(`mqtt://127.0.0.1:${(hubs.get(id) as SpawnedHub).ports.mqtt}`, { clientId: `pub-${id}` })
      clients.push(pub)
      // Each publisher owns half of the keys, so each key's numbers come from one client in order.
      const mine = KEYS.filter((_, i) => i % 2 === p)
      // Wrapped: an async function returning the loop's promise would wait for the loop itself.
      return { done: (async () => {
        let i = 0
        while (running) {
          const key = mine[i++ % mine.length] as string
          const n = (counters.get(key) ?? 0) + 1
          counters.set(key, n)
          const payload = `${key}:${n}`
          sent.add(payload)
          try {
            await withDeadline(pub.publishAsync(`${key}/t`, payload, { qos: 1 }), 5_000)
            acked.add(payload)
            if (kill.atMs !== undefined && firstAckAfterKillMs === undefined && moved.includes(key)) firstAckAfterKillMs = performance.now() - kill.atMs
          } catch { /* not acknowledged: the client may send it again; not counted as acked */ }
          if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5)) // ~ a few hundred msg/s each
        }
      })() }
    }))
    await new Promise((r) => setTimeout(r, 2_000))
    kill.atMs = performance.now()
    await stopHub(hubs.get('fb') as SpawnedHub, 'SIGKILL')
    await waitFor(async () => (await Promise.all(['fa', 'fc'].map((id) => ringOf(admin(id))))).every((v: RingView) => stateIn(v, 'fb') === 'dead'), 'fb dead', 10_000, 20)
    await new Promise((r) => setTimeout(r, 3_000))
    running = false
    await Promise.all(publishers.map((p) => p.done))

    const lastAcked = [...acked]
    await waitFor(() => [...received.values()].every((list) => { const got = new Set(list); return lastAcked.every((m) => got.has(m)) }), 'every acknowledged message at both subscribers', 15_000, 50)
    const report: string[] = []
    for (const [id, list] of received) {
      const phantoms = list.filter((m) => !sent.has(m))
      expect(phantoms, `phantoms at ${id}`).toEqual([])
      let repeats = 0
      let reordered = 0
      const last = new Map<string, number>()
      for (const m of list) {
        const [key, nText] = m.split(':') as [string, string]
        const n = Number(nText)
        const prev = last.get(key) ?? 0
        if (n === prev) repeats++
        else if (n < prev) reordered++
        else last.set(key, n)
      }
      report.push(`${id}: ${list.length} received, ${repeats} repeats, ${reordered} out of order`)
      expect(reordered, `out of order at ${id}`).toBe(0)
    }
    console.log(`kill -9 of fb (owner of ${moved.length} keys): ${sent.size} sent, ${acked.size} acknowledged, none lost; first ack on a moved key ${Math.round(firstAckAfterKillMs ?? NaN)} ms after the kill; ${report.join('; ')}`)
    expect(firstAckAfterKillMs).toBeLessThan(3_000)
  }, 60_000)
})
