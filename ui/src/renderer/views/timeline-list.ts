/**
 * The membership timeline as list items, grouped (logic/timeline-groups.ts): shown beside the
 * ring on the Ring tab and beside the charts on the Traffic tab (issue 6: "the membership
 * timeline beside the traffic"), so a dip in a chart can be read against what the ring did.
 */
import type { TimelineEvent } from '../../../../hub/src/contract/admin-api.js'
import { groupTimeline } from '../logic/timeline-groups.js'
import { ago, h } from '../widgets/dom.js'

/** Newest group first, at most `limit` of them. */
export function timelineItems(events: readonly TimelineEvent[], colorOf: (hub: string) => string, nowMs: number, limit = Infinity): HTMLElement[] {
  return groupTimeline(events).slice(0, limit).map(({ event: e, seenBy }) => h('li', { class: `ev ev-${e.type}`, 'data-type': e.type, 'data-member': e.member },
    h('time', { title: new Date(e.tsMs).toISOString() }, ago(e.tsMs, nowMs)), ' ',
    h('span', { class: 'swatch', style: `background:${colorOf(e.member)}` }),
    h('strong', {}, e.member), ` ${describeEvent(e)}`, h('span', { class: 'seen-by' }, ` (seen by ${seenBy.join(', ')})`)))
}

export function describeEvent(e: TimelineEvent): string {
  const inc = e.incarnation === undefined ? '' : ` (incarnation ${e.incarnation})`
  switch (e.type) {
    case 'memberJoined': return `joined${inc}`
    case 'memberSuspected': return `suspected${inc}`
    case 'memberDied': return `declared dead${inc}`
    case 'memberLeft': return `left${inc}`
    case 'memberAlive': return `alive again${inc}`
    case 'ownershipChanged': return `ownership changed: ${((e.movedShare ?? 0) * 100).toFixed(1)}% of keys moved`
  }
}

/** Dedup key of one report (the hub's own dedup fields, plus the incarnation). */
export function eventKey(e: TimelineEvent): string {
  return `${e.tsMs}|${e.seenBy}|${e.type}|${e.member}|${e.incarnation ?? ''}`
}
