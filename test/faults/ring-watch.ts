import type { TimelineEvent } from '../../hub/src/contract/admin-api.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { ringOf } from '../helpers/admin.js'

/**
 * What the hubs of a fault scenario saw of each other: timeline events (who saw what about whom,
 * docs/admin-api.md "Timeline") and ring views sampled while the fault lasts.
 */

/** A hub's own timeline events (`seenBy` = that hub), read from its admin port. */
export async function ownTimeline(admin: string, id: string): Promise<TimelineEvent[]> {
  const res = await fetch(`http://${admin}/api/v1/timeline?sinceMs=0&limit=10000`, { signal: AbortSignal.timeout(5_000) })
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
