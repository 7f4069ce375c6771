import { afterEach, describe, expect, it } from 'vitest'
import type { StatsResponse, TimelineEvent } from '../../hub/src/contract/admin-api.js'
import type { Hub } from '../../hub/src/hub.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { startHub, startRing, tempDir } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

async function stats(h: Hub, query = ''): Promise<StatsResponse> {
  const res = await fetch(`http://127.0.0.1:${h.ports.admin}/api/v1/stats${query}`, { signal: AbortSignal.timeout(5_000) })
  return await res.json() as StatsResponse
}

describe('operator history', () => {
  it('stats rollups survive a hub restart', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const first = await startHub(dir.path, { id: 'h1', allowAnonymous: true })
    let stopped = false
    cleanups.push(() => (stopped ? undefined : first.stop()))
    const client = await connect(`mqtt://127.0.0.1:${first.ports.mqtt}`)
    // Publish until a 1 s point shows the traffic (its rollup is stored as it is taken).
    await waitFor(async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.publishAsync('devices/r1/t', String(i), { qos: 1 })))
      return (await stats(first)).points.some((p) => p.msgsInPerS > 0)
    }, 'a point with traffic', 10_000, 200)
    await close(client)
    await first.stop()
    stopped = true
    const restartedAtMs = Date.now()

    const second = await startHub(dir.path, { id: 'h1', allowAnonymous: true })
    cleanups.push(() => second.stop())
    const { points } = await stats(second)
    const rollup = points.find((p) => p.intervalMs === 60_000 && p.tsMs < restartedAtMs)
    expect(rollup).toBeDefined()
    expect(rollup).toMatchObject({ hub: 'h1' })
    expect(rollup?.msgsInPerS).toBeGreaterThan(0)
    // Live 1 s points come after the rollups, in time order.
    await waitFor(async () => (await stats(second)).points.some((p) => p.intervalMs < 60_000), 'a live point after the restart')
    const again = (await stats(second)).points
    expect(again.map((p) => p.tsMs)).toEqual([...again.map((p) => p.tsMs)].sort((a, b) => a - b))
  })

  it('timeline: a joining hub shows on the timeline channel and the route, with the share it took', async () => {
    const ring = await startRing(['a', 'b'])
    cleanups.push(() => ring.stop())
    const ws = await AdminWsClient.open(`127.0.0.1:${ring.hub('a').ports.admin}`)
    cleanups.push(() => ws.close())
    await ws.call({ ref: 'tl', op: 'subscribe', channel: 'timeline' })
    await ws.call({ ref: 'rg', op: 'subscribe', channel: 'ring' })
    const dir = tempDir()
    cleanups.push(dir.remove)
    const c = await startHub(dir.path, { id: 'c', allowAnonymous: true, profile: 'edge', join: [`127.0.0.1:${ring.hub('a').ports.gossip}`] })
    cleanups.push(() => c.stop())
    const joined = (e: TimelineEvent): boolean => e.type === 'memberJoined' && e.member === 'c'
    await ws.next((f) => f.op === 'timeline' && f.events.some(joined), 'the join on the timeline channel', 8_000)
    await ws.next((f) => f.op === 'ring' && f.ring.members.some((m) => m.id === 'c' && m.state === 'alive'), 'a ring frame with c', 8_000)
    const moved = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${c.ports.admin}/api/v1/timeline`, { signal: AbortSignal.timeout(5_000) })
      const { events } = await res.json() as { events: TimelineEvent[] }
      return events.find((e) => e.type === 'ownershipChanged' && e.member === 'c' && e.seenBy === 'b')
    }, 'b saw c take keys', 8_000, 100)
    expect(moved.movedShare).toBeGreaterThan(0)
    expect(moved.movedShare).toBeLessThan(1)
    // A graceful stop: a leave on the channel, the ring frame shows it, and its keys move back.
    await c.stop()
    await ws.next((f) => f.op === 'timeline' && f.events.some((e) => e.type === 'memberLeft' && e.member === 'c'), 'the leave on the timeline channel', 8_000)
    await ws.next((f) => f.op === 'ring' && f.ring.members.some((m) => m.id === 'c' && m.state === 'left'), 'a ring frame with c left', 8_000)
    const res = await fetch(`http://127.0.0.1:${ring.hub('b').ports.admin}/api/v1/timeline?sinceMs=${Date.now() - 60_000}`)
    const { events } = await res.json() as { events: TimelineEvent[] }
    expect(events.some((e) => e.type === 'memberLeft' && e.member === 'c' && e.seenBy === 'a')).toBe(true)
    expect(events.some((e) => e.type === 'ownershipChanged' && e.member === 'a' && e.seenBy === 'b')).toBe(true)
  })
})
