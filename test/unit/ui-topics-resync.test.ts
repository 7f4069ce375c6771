import { describe, expect, it } from 'vitest'
import { topicsResyncDue } from '../../ui/src/renderer/logic/topics-resync.js'

const o = { everyMs: 30_000, quietMs: 3_000 }
const state = (s: Partial<Parameters<typeof topicsResyncDue>[0]>): Parameters<typeof topicsResyncDue>[0] => ({ newTopics: 0, skipped: 0, lastSkipAtMs: 0, lastReadAtMs: 0, ...s })

describe('topicsResyncDue (when the Topics tree re-reads the full topic list)', () => {
  it('re-reads soon after a new topic, and every everyMs anyway', () => {
    expect(topicsResyncDue(state({ lastReadAtMs: 1_000 }), 2_000, o)).toBe(false)
    expect(topicsResyncDue(state({ lastReadAtMs: 1_000, newTopics: 1 }), 2_000, o)).toBe(true)
    expect(topicsResyncDue(state({ lastReadAtMs: 1_000 }), 31_000, o)).toBe(true)
  })

  it('re-reads once a burst the tap skipped messages of is over, not while skips go on', () => {
    // The read came mid-burst; the tap skipped messages after it, the last 1 s ago: still going.
    expect(topicsResyncDue(state({ lastReadAtMs: 10_000, skipped: 120, lastSkipAtMs: 12_000 }), 13_000, o)).toBe(false)
    // 3 s without a skip: the burst is over, the counts are behind: read now.
    expect(topicsResyncDue(state({ lastReadAtMs: 10_000, skipped: 120, lastSkipAtMs: 12_000 }), 15_000, o)).toBe(true)
    // Nothing skipped since the read: no early read.
    expect(topicsResyncDue(state({ lastReadAtMs: 10_000, skipped: 0, lastSkipAtMs: 9_000 }), 15_000, o)).toBe(false)
  })
})
