import { describe, expect, it } from 'vitest'
import type { RouterLinkView } from '../../hub/src/contract/admin-api.js'
import { downFor, linkSummary } from '../../ui/src/renderer/logic/link-problems.js'

/** A link as a hub reports it at 10 s by its clock. */
const link = (from: string, to: string, up: boolean, sinceMs: number): RouterLinkView => ({ from, to, up, sinceMs, forMs: 10_000 - sinceMs })

describe('the router-link summary of the Ring tab', () => {
  it('lists the links down, longest first, and counts the others', () => {
    const s = linkSummary({ hubs: ['a', 'b'], links: [link('a', 'b', true, 0), link('a', 'c', false, 9_000), link('b', 'a', true, 0), link('b', 'c', false, 4_000)] }, 0)
    expect(s).toEqual({ down: [{ from: 'b', to: 'c', forMs: 6_000 }, { from: 'a', to: 'c', forMs: 1_000 }], up: 2, reporting: 2 })
    // Time goes on after the answer by this computer's clock, whatever the hub's clock says.
    expect(linkSummary({ hubs: ['a'], links: [{ from: 'a', to: 'b', up: false, sinceMs: 1e15, forMs: 3_000 }] }, 2_500).down[0]?.forMs).toBe(5_500)
  })

  it('says how long in seconds, minutes or hours', () => {
    expect([downFor(999), downFor(59_999), downFor(125_000), downFor(3_600_000 + 12 * 60_000 + 5_000)]).toEqual(['0 s', '59 s', '2 min 5 s', '1 h 12 min'])
  })
})
