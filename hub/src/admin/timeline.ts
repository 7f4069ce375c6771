import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { TimelineEvent, TimelineEventType } from '../contract/admin-api.js'
import type { Cluster } from '../membership/cluster.js'
import type { Member } from '../membership/member.js'
import type { AdminHistory } from '../store/admin-history.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { fitBytes, intParam, listOf, queryOf } from './admin-params.js'
import type { RingQuery } from './ring-query.js'

export const MAX_TIMELINE_LIMIT = 10_000
const validEvents = listOf<TimelineEvent>('events', { tsMs: 'number', seenBy: 'string', type: 'string', member: 'string', incarnation: 'number?', movedShare: 'number?' })

/** The identity of an event across hubs' answers (a hub's event reaches the asker once). */
const identity = (e: TimelineEvent): string => `${e.seenBy}\u0000${e.tsMs}\u0000${e.type}\u0000${e.member}`

/** Every hub's events, de-duplicated, in time order, the newest `limit`. */
export function mergeTimeline(parts: ReadonlyArray<{ part: readonly TimelineEvent[] }>, limit: number): TimelineEvent[] {
  const byId = new Map<string, TimelineEvent>()
  for (const { part } of parts) for (const e of part) byId.set(identity(e), e)
  return [...byId.values()].sort((a, b) => a.tsMs - b.tsMs || (a.seenBy < b.seenBy ? -1 : a.seenBy > b.seenBy ? 1 : 0)).slice(-limit)
}

/**
 * Records what this hub saw of the ring (SWIM events and ownership changes, with the moved share)
 * in its bounded `timeline` table, and answers `GET /api/v1/timeline?sinceMs=&limit=` for the
 * whole ring. `memberAlive` is a member seen alive again after a suspicion or a death (refuted, or
 * restarted); an `ownershipChanged` event is recorded per hub that gained keys, `movedShare` the
 * keyspace fraction it gained.
 */
export class Timeline {
  readonly #lastState = new Map<string, string>()
  readonly #listeners: Array<(events: TimelineEvent[]) => void> = []

  constructor(private readonly deps: { self: string, cluster: Cluster, history: AdminHistory, clock: Clock, log: Logger }) {
    const swim = deps.cluster.swim
    const on = (event: 'memberJoined' | 'memberUpdated' | 'memberSuspected' | 'memberDied' | 'memberLeft'): void => {
      swim.on(event, (m: Member) => this.#member(event, m))
    }
    on('memberJoined'); on('memberUpdated'); on('memberSuspected'); on('memberDied'); on('memberLeft')
    // This hub's own start is the first thing it saw (its ring of one was installed just before).
    this.#lastState.set(deps.self, 'alive')
    this.#record([{ tsMs: deps.clock.now(), seenBy: deps.self, type: 'memberJoined', member: deps.self, incarnation: swim.self.incarnation }])
    deps.cluster.onOwnershipChanged((change) => {
      const gained = new Map<string, number>()
      for (const move of change.moves) gained.set(move.to, (gained.get(move.to) ?? 0) + move.share)
      this.#record([...gained].map(([member, share]) => ({ tsMs: deps.clock.now(), seenBy: deps.self, type: 'ownershipChanged' as const, member, movedShare: share })))
    })
  }

  onEvents(listener: (events: TimelineEvent[]) => void): void { this.#listeners.push(listener) }

  register(admin: AdminServer, ring: RingQuery): { ofRing: (sinceMs: number) => Promise<TimelineEvent[]> } {
    ring.handle('timeline', (params) => ({
      // The newest ones when they do not all fit in one answer.
      events: fitBytes(this.deps.history.eventsSince(this.deps.self, typeof params.sinceMs === 'number' ? params.sinceMs : 0, Math.min(Number(params.limit) || 1000, MAX_TIMELINE_LIMIT)).reverse()).reverse(),
    }))
    admin.route('GET /api/v1/timeline', async (req, res) => {
      const query = queryOf(req)
      const sinceMs = intParam(query, 'sinceMs', 0, 0, Number.MAX_SAFE_INTEGER)
      const limit = intParam(query, 'limit', 1_000, 1, MAX_TIMELINE_LIMIT)
      if (typeof sinceMs === 'string' || typeof limit === 'string') {
        admin.countBadRequest(res, 'timeline-query')
        return sendJson(res, 400, { error: typeof sinceMs === 'string' ? sinceMs : limit })
      }
      const parts = await ring.gather('timeline', { sinceMs, limit }, validEvents)
      sendJson(res, 200, { events: mergeTimeline(parts, limit) })
    })
    return { ofRing: async (sinceMs) => mergeTimeline(await ring.gather('timeline', { sinceMs, limit: 1000 }, validEvents), 1000) }
  }

  #member(event: 'memberJoined' | 'memberUpdated' | 'memberSuspected' | 'memberDied' | 'memberLeft', m: Member): void {
    const before = this.#lastState.get(m.id)
    this.#lastState.set(m.id, m.state)
    let type: TimelineEventType
    if (event === 'memberUpdated') {
      // Updates that keep the state (metadata, an incarnation bump while alive) are not news.
      if (m.state !== 'alive' || before === undefined || before === 'alive') return
      type = 'memberAlive'
    } else {
      type = event
    }
    this.#record([{ tsMs: this.deps.clock.now(), seenBy: this.deps.self, type, member: m.id, incarnation: m.incarnation }])
  }

  #record(events: TimelineEvent[]): void {
    if (events.length === 0) return
    this.deps.history.putEvents(events).catch((err: unknown) => this.deps.log.error({ err }, 'cannot store timeline events'))
    for (const listener of this.#listeners) listener(events)
  }
}
