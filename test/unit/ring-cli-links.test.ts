import { describe, expect, it } from 'vitest'
import { formatLinks } from '../../hub/src/cli/ring-command.js'
import type { RouterLinkView } from '../../hub/src/contract/admin-api.js'

const link = (from: string, to: string, up: boolean, forMs: number): RouterLinkView => ({ from, to, up, sinceMs: 1_000_000 - forMs, forMs })

describe('ringhub ring links / status: the router links for people', () => {
  it('says all are up, naming the hubs that reported', () => {
    expect(formatLinks({ hubs: ['a', 'b'], links: [link('a', 'b', true, 5_000), link('b', 'a', true, 5_000)] }, false))
      .toBe('router links: all 2 up (2 hubs reporting: a, b)\n')
  })

  it('lists the links down, longest first; with every link when asked', () => {
    const answer = { hubs: ['a', 'b'], links: [link('a', 'b', true, 5_000), link('a', 'c', false, 12_400), link('b', 'a', true, 5_000), link('b', 'c', false, 125_000)] }
    expect(formatLinks(answer, false)).toBe('router links: 2 of 4 down (2 hubs reporting: a, b); keys owned across them stall\n  b → c  down  2 min 5 s\n  a → c  down  12 s\n')
    expect(formatLinks(answer, true).split('\n').slice(1, -1)).toEqual(['  a → b  up    5 s', '  a → c  down  12 s', '  b → a  up    5 s', '  b → c  down  2 min 5 s'])
  })
})
