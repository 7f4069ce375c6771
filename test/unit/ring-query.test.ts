import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { AdminMetrics } from '../../hub/src/admin/admin-metrics.js'
import { RingQuery } from '../../hub/src/admin/ring-query.js'
import { createLogger } from '../../hub/src/base/log.js'
import type { AdminQueryRequest, RouterReply, RouterRequest } from '../../hub/src/routing/messages.js'

type Served = (from: string, r: AdminQueryRequest) => Promise<RouterReply>

/**
 * RingQuery instances that reach each other's served handler directly, as over the link; a hub
 * listed in `silent` never answers (the request times out).
 */
function ring(ids: readonly string[], silent: ReadonlySet<string> = new Set()) {
  const served = new Map<string, Served>()
  const lines: Array<{ level: number, msg: string, peer?: string, query?: string }> = []
  const registry = new Registry()
  const metrics = new AdminMetrics(registry)
  const queries = new Map<string, RingQuery>()
  // A fresh RingQuery for `self` (a restart: its handlers start empty), served from then on.
  const build = (self: string): RingQuery => {
    const bus = {
      request: async (hub: string, r: RouterRequest): Promise<RouterReply> => {
        if (silent.has(hub)) throw new Error(`request to ${hub} timed out`)
        const handler = served.get(hub)
        if (!handler || r.t !== 'admin-query') throw new Error(`no route to ${hub}`)
        return handler(self, r)
      },
    }
    const router = { serve: (_types: readonly ['admin-query'], handler: Served) => { served.set(self, handler) } }
    const log = createLogger('debug', { hub: self }, { write: (line: string) => { lines.push(JSON.parse(line) as (typeof lines)[number]) } })
    const q = new RingQuery({ self, bus, router, peers: () => ids.filter((id) => id !== self), metrics, log })
    queries.set(self, q)
    return q
  }
  for (const self of ids) build(self)
  const failures = async (query: string): Promise<number> => (await metrics.peerQueryFailures.get()).values.find((v) => v.labels.query === query)?.value ?? 0
  return { queries, lines, failures, restart: build }
}

const INFO = 30
const DEBUG = 20
const validLinks = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined)

describe('RingQuery', () => {
  it('leaves out a hub that does not know the query (an older one), saying so once at info, then at debug', async () => {
    const { queries, lines, failures } = ring(['a', 'b', 'old'])
    // 'old' is a hub from before the `links` query: it has no handler for it.
    for (const id of ['a', 'b']) queries.get(id)?.handle('links', () => [`${id}>x`])
    const a = queries.get('a') as RingQuery
    for (let poll = 0; poll < 3; poll++) {
      const parts = await a.gather('links', {}, validLinks)
      expect(parts).toEqual([{ hub: 'a', part: ['a>x'] }, { hub: 'b', part: ['b>x'] }])
    }
    const told = lines.filter((l) => l.peer === 'old' && l.query === 'links' && /does not know this admin query/.test(l.msg))
    expect(told.map((l) => l.level)).toEqual([INFO, DEBUG, DEBUG])
    // Still counted as a part left out, each time.
    expect(await failures('links')).toBe(3)
    // The old hub's side: answered with an error, not counted as bad input, at debug.
    const served = lines.filter((l) => l.msg === 'admin query this hub does not know')
    expect(served.map((l) => l.level)).toEqual([DEBUG, DEBUG, DEBUG])
  })

  it('says every other failure each time: a hub that does not answer is not an upgrade in progress', async () => {
    const { queries, lines, failures } = ring(['a', 'b'], new Set(['b']))
    queries.get('a')?.handle('links', () => ['a>b'])
    const a = queries.get('a') as RingQuery
    for (let poll = 0; poll < 2; poll++) expect(await a.gather('links', {}, validLinks)).toEqual([{ hub: 'a', part: ['a>b'] }])
    const said = lines.filter((l) => l.peer === 'b' && l.msg === 'a hub did not answer an admin query; its part is left out')
    expect(said.map((l) => l.level)).toEqual([INFO, INFO])
    expect(await failures('links')).toBe(2)
  })

  it('says it again after the hub knew the query in between (upgraded, then rolled back)', async () => {
    const { queries, lines, restart } = ring(['a', 'b'])
    const a = queries.get('a') as RingQuery
    a.handle('links', () => [])
    const told = (): number[] => lines.filter((l) => l.peer === 'b' && /does not know this admin query/.test(l.msg)).map((l) => l.level)
    await a.gather('links', {}, validLinks)
    await a.gather('links', {}, validLinks)
    expect(told()).toEqual([INFO, DEBUG])
    queries.get('b')?.handle('links', () => ['b>a'])
    expect(await a.gather('links', {}, validLinks)).toEqual([{ hub: 'a', part: [] }, { hub: 'b', part: ['b>a'] }])
    // Rolled back: b runs a version without the query again.
    restart('b')
    await a.gather('links', {}, validLinks)
    expect(told()).toEqual([INFO, DEBUG, INFO])
  })

  it('logs a failed ask as gather does: an unknown query once at info, other failures each time with the caller\'s words', async () => {
    const { queries, lines } = ring(['a', 'old'], new Set())
    const a = queries.get('a') as RingQuery
    for (let i = 0; i < 2; i++) {
      await a.ask('old', 'channel-presence-events', {}, (v) => v).catch((err: unknown) => a.failed(err, 'old', 'channel-presence-events', 'events not taken'))
    }
    expect(lines.filter((l) => l.peer === 'old' && /does not know this admin query/.test(l.msg)).map((l) => l.level)).toEqual([INFO, DEBUG])
    a.failed(new Error('timed out'), 'old', 'channel-presence-events', 'events not taken')
    a.failed(new Error('timed out'), 'old', 'channel-presence-events', 'events not taken')
    expect(lines.filter((l) => l.msg === 'events not taken').map((l) => l.level)).toEqual([INFO, INFO])
  })

  it('tells an unknown query per hub and per query: another old hub, or another query, is said again at info', async () => {
    const { queries, lines } = ring(['a', 'old1', 'old2'])
    queries.get('a')?.handle('links', () => [])
    queries.get('a')?.handle('stats', () => [])
    const a = queries.get('a') as RingQuery
    await a.gather('links', {}, validLinks)
    await a.gather('stats', {}, validLinks)
    await a.gather('links', {}, validLinks)
    const infos = lines.filter((l) => l.level === INFO && /does not know this admin query/.test(l.msg)).map((l) => `${l.peer}:${l.query}`).sort()
    expect(infos).toEqual(['old1:links', 'old1:stats', 'old2:links', 'old2:stats'])
  })
})
