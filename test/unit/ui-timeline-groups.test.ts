import { describe, expect, it } from 'vitest'
import type { TimelineEvent } from '../../hub/src/contract/admin-api.js'
import { groupTimeline } from '../../ui/src/renderer/logic/timeline-groups.js'

describe('the membership timeline, grouped', () => {
  const ev = (tsMs: number, seenBy: string, type: TimelineEvent['type'], member: string, extra: Partial<TimelineEvent> = {}): TimelineEvent => ({ tsMs, seenBy, type, member, ...extra })

  it('merges what several hubs saw of one event, newest first, and keeps distinct events apart', () => {
    const groups = groupTimeline([
      ev(1_000, 'h2', 'memberDied', 'h3', { incarnation: 1 }),
      ev(1_200, 'h1', 'memberDied', 'h3', { incarnation: 1 }),
      ev(1_300, 'h1', 'ownershipChanged', 'h1', { movedShare: 0.166 }),
      ev(1_400, 'h2', 'ownershipChanged', 'h1', { movedShare: 0.166 }),
      ev(1_500, 'h2', 'ownershipChanged', 'h2', { movedShare: 0.172 }),
      ev(500, 'h1', 'memberSuspected', 'h3', { incarnation: 1 }),
      // Much later: a second death of the same incarnation is another event.
      ev(60_000, 'h1', 'memberDied', 'h3', { incarnation: 1 }),
    ])
    expect(groups.map((g) => [g.event.type, g.event.member, g.event.tsMs, g.seenBy])).toEqual([
      ['memberDied', 'h3', 60_000, ['h1']],
      ['ownershipChanged', 'h2', 1_500, ['h2']],
      ['ownershipChanged', 'h1', 1_300, ['h1', 'h2']],
      ['memberDied', 'h3', 1_000, ['h1', 'h2']],
      ['memberSuspected', 'h3', 500, ['h1']],
    ])
  })
})
