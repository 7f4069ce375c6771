import type { TimelineEvent } from '../../hub/src/contract/admin-api.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { ringOf } from '../helpers/admin.js'

/**
 * What the hubs of a fault scenario saw of each other: timeline events (who saw what about whom,
 * docs/admin-api.md "Timeline") and ring views sampled while the fault lasts.
 */

/** A hub's own timeline events (`seenBy` = that hub), read from its admin port. */
export async function ownTimeline(admin: string, id: string, token?: string): Promise<TimelineEvent[]> {
  const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` }
  const res = await fetch(`http://${admin}/api/v1/timeline?sinceMs=0&limit=10000`, { headers, signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`GET /api/v1/timeline on ${admin}: ${res.status}`)
  return ((await res.json()) as { events: TimelineEvent[] }).events.filter((e) => e.seenBy === id)
}

const identity = (e: TimelineEvent): string => `${e.seenBy}\u0000${e.tsMs}\u0000${e.type}\u0000${e.member}`

/** Events in `after` that were not in `before` (a timeline read before the fault). */
export function newEvents(before: readonly TimelineEvent[], after: readonly TimelineEvent[]): TimelineEvent[] {
  const seen = new Set(before.map(identity))
  return after.filter((e) => !seen.has(identity(e)))
}

/** Counts events by `type` whose member and observer satisfy `which`. */
export function countEvents(events: readonly TimelineEvent[], type: TimelineEvent['type'], which: (e: TimelineEvent) => boolean = () => true): number {
  return events.filter((e) => e.type === type && which(e)).length
}

/**
 * How long each suspicion lasted, ms: from a hub's `memberSuspected` about a member to that
 * hub's next `memberAlive` (refuted) or `memberDied` about it; a suspicion still open at the
 * end of `events` is left out. Sorted, longest last.
 */
export function suspicionDurations(events: readonly TimelineEvent[]): Array<{ ms: number, ended: 'memberAlive' | 'memberDied', seenBy: string, member: string }> {
  const open = new Map<string, number>()
  const out: Array<{ ms: number, ended: 'memberAlive' | 'memberDied', seenBy: string, member: string }> = []
  for (const e of [...events].sort((a, b) => a.tsMs - b.tsMs)) {
    const pair = `${e.seenBy}\u0000${e.member}`
    if (e.type === 'memberSuspected') {
      if (!open.has(pair)) open.set(pair, e.tsMs)
    } else if (e.type === 'memberAlive' || e.type === 'memberDied') {
      const since = open.get(pair)
      if (since === undefined) continue
      open.delete(pair)
      out.push({ ms: e.tsMs - since, ended: e.type, seenBy: e.seenBy, member: e.member })
    }
  }
  return out.sort((a, b) => a.ms - b.ms)
}

/** One line per event, for the test output. */
export function describeEvents(events: readonly TimelineEvent[]): string {
  return events.map((e) => `${e.seenBy} saw ${e.type} ${e.member}${e.incarnation === undefined ? '' : ` (inc ${e.incarnation})`}`).join('; ')
}

export interface ViewSample {
  atMs: number
  /** Per observing hub: its checksum and the state it holds for each member (undefined: no answer in time). */
  views: Map<string, { checksum: string, states: Record<string, string> } | undefined>
}

/**
 * Samples every hub's ring view each `everyMs` until `stop()`; a hub that does not answer within
 * `timeoutMs` (a starved one) is recorded as undefined for that sample.
 */
export function sampleViews(admins: ReadonlyMap<string, string>, everyMs: number, timeoutMs = 1_000): { samples: ViewSample[], stop: () => Promise<void> } {
  const samples: ViewSample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      const views = new Map<string, ViewSample['views'] extends Map<string, infer V> ? V : never>()
      await Promise.all([...admins].map(async ([id, admin]) => {
        const view = await Promise.race([ringOf(admin).catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs))])
        views.set(id, view === undefined ? undefined : { checksum: view.checksum, states: statesOf(view) })
      }))
      samples.push({ atMs: started, views })
      const rest = everyMs - (performance.now() - started)
      if (rest > 0 && running) await new Promise((r) => setTimeout(r, rest))
    }
  })()
  return { samples, stop: async () => { running = false; await loop } }
}

function statesOf(view: RingView): Record<string, string> {
  return Object.fromEntries(view.members.map((m) => [m.id, m.state]))
}
