/**
 * Groups the membership timeline for display: every hub reports what it saw, so one death is
 * N−1 entries (one per survivor). Entries of the same type about the same member at the same
 * incarnation (and for ownership moves, the same moved share) within `windowMs` of the first
 * become one line listing every hub that saw it. Pure, no DOM.
 */
import type { TimelineEvent } from '../../../../hub/src/contract/admin-api.js'

export interface TimelineGroup {
  /** The earliest report. */
  event: TimelineEvent
  /** Hubs that reported it, sorted. */
  seenBy: string[]
}

/** Groups `events` (any order); newest group first. */
export function groupTimeline(events: readonly TimelineEvent[], windowMs = 10_000): TimelineGroup[] {
  const sorted = [...events].sort((a, b) => a.tsMs - b.tsMs)
  const open = new Map<string, TimelineGroup>()
  const groups: TimelineGroup[] = []
  for (const e of sorted) {
    const key = `${e.type}|${e.member}|${e.incarnation ?? ''}|${e.movedShare === undefined ? '' : e.movedShare.toFixed(4)}`
    const g = open.get(key)
    if (g && e.tsMs - g.event.tsMs <= windowMs) {
      if (!g.seenBy.includes(e.seenBy)) g.seenBy = [...g.seenBy, e.seenBy].sort()
      continue
    }
    const group = { event: e, seenBy: [e.seenBy] }
    open.set(key, group)
    groups.push(group)
  }
  return groups.reverse()
}
