import { afterAll, describe, expect, it } from 'vitest'
import type { DevicesResponse, StatsResponse } from '../../hub/src/contract/admin-api.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

const TOKEN = 'tok-' + 'e2e-admin-secret-value'
const cleanups: Array<() => unknown> = []
afterAll(async () => { while (cleanups.length) await cleanups.pop()?.() })

async function hub(id: string, seed?: SpawnedHub): Promise<SpawnedHub> {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const join = seed ? ['--join', `127.0.0.1:${seed.ports.gossip}`] : []
  // The token comes from the environment, as docs/configuration.md recommends.
  const h = await spawnHub(['--id', id, '--data', dir.path, '--allow-anonymous', '--profile', 'edge', '--log-level', 'debug', ...join], { env: { RINGHUB_ADMIN_TOKEN: TOKEN } })
  cleanups.push(() => stopHub(h, 'SIGKILL'))
  return h
}

describe('admin API v1 on hub processes', () => {
  it('two hubs with RINGHUB_ADMIN_TOKEN answer for each other, with the token only, and never log it', async () => {
    const a = await hub('pa')
    const b = await hub('pb', a)
    const auth = { authorization: `Bearer ${TOKEN}` }
    const api = async <T>(h: SpawnedHub, path: string): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${h.ports.admin}${path}`, { headers: auth, signal: AbortSignal.timeout(5_000) })
      expect(res.status, path).toBe(200)
      return await res.json() as T
    }
    expect((await fetch(`http://127.0.0.1:${a.ports.admin}/api/v1/ring`)).status).toBe(401)
    await waitFor(async () => (await api<{ members: Array<{ state: string }> }>(a, '/api/v1/ring')).members.filter((m) => m.state === 'alive').length === 2, 'a ring of two', 10_000, 100)
    const device = await connect(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'proc-dev' })
    cleanups.push(() => close(device))
    await device.publishAsync('devices/proc-dev/t', '1', { qos: 1 })
    const seen = await waitFor(async () => (await api<DevicesResponse>(a, '/api/v1/devices?search=proc-dev')).devices[0], 'proc-dev listed on a', 5_000, 100)
    expect(seen).toMatchObject({ id: 'proc-dev', online: true, hub: 'pb' })
    await waitFor(async () => new Set((await api<StatsResponse>(b, '/api/v1/stats')).points.map((p) => p.hub)).size === 2, 'stats of both hubs', 5_000, 100)
    const ws = await AdminWsClient.open(`127.0.0.1:${a.ports.admin}`, { query: `?token=${encodeURIComponent(TOKEN)}` })
    cleanups.push(() => ws.close())
    expect(await ws.call({ ref: 'r', op: 'subscribe', channel: 'ring' })).toEqual({ ref: 'r', op: 'ok' })
    await ws.close()
    await close(device)
    for (const h of [a, b]) {
      expect(await stopHub(h, 'SIGTERM')).toMatchObject({ code: 0 })
      expect(h.output.join('\n')).not.toContain(TOKEN)
      expect(h.output.join('\n')).toContain('hub stopped')
    }
  }, 40_000)
})
