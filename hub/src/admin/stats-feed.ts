import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { HubStatsPoint } from '../contract/admin-api.js'
import { ROLLUP_INTERVAL_MS } from './stats-sampler.js'
import { PolledFeed } from './ws-channels.js'

/** How far back the `stats` channel reaches for points it has not sent, ms (each hub by its own clock). */
export const STATS_CATCH_UP_MS = 10_000

/**
 * What the feed asks one hub: its points after `sinceMs` (the newest it sent of that hub, by that
 * hub's clock), or, for a hub it has no cursor for, those of its last `lookBackMs` by its own
 * clock. A hub from before `lookBackMs` answers from the start; the feed keeps its last 10 s.
 */
export type StatsAsk = { sinceMs: number } | { lookBackMs: number }

/**
 * `stats`: every hub's 1 s points the feed has not sent yet, once a period. The feed's period and
 * each hub's sampling are not in step, so a hub can take two points between two frames (or a
 * gathering runs late, or skips): the feed keeps, per hub, the newest point it sent and asks each
 * hub for what came after. Times are compared per hub, never across hubs, so a hub whose clock
 * is off is streamed like any other. A hub that has not sent a point for `STATS_CATCH_UP_MS` (by
 * this hub's clock) loses its cursor and is asked for its last 10 s when it is back: what it
 * sampled before is in `GET /api/v1/stats`, not in the stream. A new subscriber first gets what
 * the others were sent in the last 10 s (covering a page that loaded the history just before
 * subscribing). Rollups (1-minute points) are left to the history.
 */
export function statsFeed(deps: { clock: Clock, log: Logger, pointsOfRing: (askOf: (hub: string) => StatsAsk) => Promise<HubStatsPoint[]> }): PolledFeed {
  /** Per hub: the newest point sent (its clock), and when it came (this hub's clock). */
  const sent = new Map<string, { tsMs: number, atMs: number }>()
  /** What was sent in the last 10 s (this hub's clock), for new subscribers. */
  let recent: Array<{ point: HubStatsPoint, atMs: number }> = []
  return new PolledFeed({
    ...deps,
    onStart: () => { sent.clear(); recent = [] },
    initial: () => recent.length > 0 ? { op: 'stats', points: recent.map((r) => r.point) } : undefined,
    poll: async () => {
      const now = deps.clock.now()
      for (const [hub, s] of sent) if (s.atMs < now - STATS_CATCH_UP_MS) sent.delete(hub)
      const asked = new Map(sent)
      const answer = await deps.pointsOfRing((hub) => {
        const s = asked.get(hub)
        return s ? { sinceMs: s.tsMs + 1 } : { lookBackMs: STATS_CATCH_UP_MS }
      })
      // A hub asked without a cursor that answered from the start (a hub before lookBackMs): its last 10 s.
      const newest = new Map<string, number>()
      for (const p of answer) newest.set(p.hub, Math.max(newest.get(p.hub) ?? -Infinity, p.tsMs))
      const fresh = answer.filter((p) => {
        if (p.intervalMs >= ROLLUP_INTERVAL_MS) return false
        const s = asked.get(p.hub)
        return s ? p.tsMs > s.tsMs : p.tsMs >= (newest.get(p.hub) as number) - STATS_CATCH_UP_MS
      })
      const atMs = deps.clock.now()
      for (const p of fresh) if (p.tsMs > (sent.get(p.hub)?.tsMs ?? -Infinity)) sent.set(p.hub, { tsMs: p.tsMs, atMs })
      recent = [...recent.filter((r) => r.atMs >= atMs - STATS_CATCH_UP_MS), ...fresh.map((point) => ({ point, atMs }))]
      return fresh.length > 0 ? { op: 'stats', points: fresh } : undefined
    },
  })
}
