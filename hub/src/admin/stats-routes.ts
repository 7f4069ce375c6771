import type { Clock } from '../base/clock.js'
import type { HubStatsPoint, StatsResponse } from '../contract/admin-api.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { intParam, listOf, queryOf, textParam, type Shape } from './admin-params.js'
import type { RingQuery } from './ring-query.js'
import type { StatsAsk } from './stats-feed.js'
import type { StatsSampler } from './stats-sampler.js'

const POINT: Shape = { hub: 'string', tsMs: 'number', intervalMs: 'number', connections: 'number', msgsInPerS: 'number', msgsOutPerS: 'number', interHubBytesInPerS: 'number', interHubBytesOutPerS: 'number', drops: 'number', storeLagMs: 'number' }
export const validPoints = listOf<HubStatsPoint>('points', POINT)
/** Default look-back of `GET /api/v1/stats`: the live window, ms. */
const DEFAULT_SINCE_MS = 15 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000

/**
 * `GET /api/v1/stats?hub=&sinceMs=`: every hub's points (or one hub's), gathered over the link.
 * Each hub answers `stats` (its points since a time, or of its last `lookBackMs` by its own clock;
 * the WebSocket's `stats` channel asks it too)
 * and `stats-latest` (its last point: what hubs before the channel asked for, kept for a ring of
 * mixed versions).
 */
export function registerStats(deps: { admin: AdminServer, ring: RingQuery, sampler: StatsSampler, clock: Clock }): { pointsOfRing: (askOf: (hub: string) => StatsAsk) => Promise<HubStatsPoint[]> } {
  const { admin, ring, sampler, clock } = deps
  ring.handle('stats', (params) => {
    const sinceMs = typeof params.sinceMs === 'number' ? params.sinceMs : typeof params.lookBackMs === 'number' ? clock.now() - params.lookBackMs : 0
    return { points: sampler.points(sinceMs) }
  })
  ring.handle('stats-latest', () => {
    const latest = sampler.latest()
    return { points: latest ? [latest] : [] }
  })
  admin.route('GET /api/v1/stats', async (req, res) => {
    const query = queryOf(req)
    const now = clock.now()
    const sinceMs = intParam(query, 'sinceMs', now - DEFAULT_SINCE_MS, 0, Number.MAX_SAFE_INTEGER)
    const hub = textParam(query, 'hub', 256)
    if (typeof sinceMs === 'string' || typeof hub !== 'string') {
      admin.countBadRequest(res, 'stats-query')
      return sendJson(res, 400, { error: typeof sinceMs === 'string' ? sinceMs : (hub as { error: string }).error })
    }
    // Never more than a day back: that is all the rollups keep, and it bounds the answer.
    const params = { sinceMs: Math.max(sinceMs, now - DAY_MS) }
    let points: HubStatsPoint[]
    if (hub === '') {
      points = (await ring.gather('stats', params, validPoints)).flatMap((p) => p.part)
    } else {
      try {
        points = await ring.ask(hub, 'stats', params, validPoints)
      } catch (err) {
        return sendJson(res, 404, { error: `hub ${hub} did not answer: ${err instanceof Error ? err.message : String(err)}` })
      }
    }
    points.sort((a, b) => a.tsMs - b.tsMs || (a.hub < b.hub ? -1 : a.hub > b.hub ? 1 : 0))
    const body: StatsResponse = { points }
    sendJson(res, 200, body)
  })
  return {
    // A hub's answer is only its own points: one that answers for another is cut to its own.
    pointsOfRing: async (askOf) => (await ring.gather('stats', askOf, validPoints)).flatMap((p) => p.part.filter((point) => point.hub === p.hub)),
  }
}
