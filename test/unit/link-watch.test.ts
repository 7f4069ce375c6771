import { describe, expect, it } from 'vitest'
import { watchLink, type WatchedLink } from '../../hub/src/routing/link-watch.js'

// One pass of the silent-link watch over one link (docs/routing.md "Silent links"): beat 1 s,
// silence allowed 6 s.
const BEAT = 1_000
const SILENT = 6_000
const link = (o: Partial<WatchedLink> = {}): WatchedLink => ({ sentMs: 0, heardMs: 0, peerBeatMs: 1_000, hasQueued: false, silentAt: undefined, ...o })

describe('the silent-link watch', () => {
  it('beats after a beat interval with nothing written, unless frames are queued', () => {
    expect(watchLink(link({ sentMs: 100 }), 1_099, BEAT, SILENT).beat).toBe(false)
    expect(watchLink(link({ sentMs: 100 }), 1_100, BEAT, SILENT).beat).toBe(true)
    expect(watchLink(link({ sentMs: 100, hasQueued: true }), 5_000, BEAT, SILENT).beat).toBe(false)
  })

  it('marks a link silent past the silence allowed, and closes it at the next pass only if nothing came between', () => {
    const first = watchLink(link({ heardMs: 1_000 }), 7_001, BEAT, SILENT)
    expect(first).toMatchObject({ close: false, silentAt: 1_000 })
    // Nothing heard since: closed.
    expect(watchLink(link({ heardMs: 1_000, silentAt: first.silentAt }), 7_500, BEAT, SILENT).close).toBe(true)
    // Bytes read between the passes (after a stall of this process): kept, the mark cleared.
    expect(watchLink(link({ heardMs: 7_400, silentAt: first.silentAt }), 7_500, BEAT, SILENT)).toMatchObject({ close: false, silentAt: undefined })
    // Still silent but heard something long ago, after the mark: marked again, not closed.
    expect(watchLink(link({ heardMs: 1_200, silentAt: 1_000 }), 7_300, BEAT, SILENT)).toMatchObject({ close: false, silentAt: 1_200 })
    expect(watchLink(link({ heardMs: 1_000 }), 7_000, BEAT, SILENT)).toMatchObject({ close: false, silentAt: undefined })
  })

  it('allows at least three of the peer\'s beat intervals', () => {
    const slowPeer = link({ heardMs: 0, peerBeatMs: 5_000 })
    expect(watchLink(slowPeer, 14_000, BEAT, SILENT).silentAt).toBeUndefined()
    expect(watchLink(slowPeer, 15_001, BEAT, SILENT).silentAt).toBe(0)
  })
})
