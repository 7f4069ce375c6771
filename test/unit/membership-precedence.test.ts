import { describe, expect, it } from 'vitest'
import { MEMBER_STATES, type MemberState } from '../../hub/src/membership/member.js'
import { versionOf } from '../../hub/src/membership/messages.js'
import { judge, mayMoveAddress, shouldApply, type Verdict } from '../../hub/src/membership/precedence.js'

type Age = 'older' | 'equal' | 'newer'

/**
 * The expected verdict for every current state × update incarnation age × update state, written
 * out in full as in the doc comment of precedence.ts (memberlist state.go, with the two noted
 * differences: a newer suspect over a suspect, and a left over a dead member).
 */
const TABLE: Record<MemberState, Record<Age, Record<MemberState, Verdict>>> = {
  alive: {
    older: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
    equal: { alive: 'ignore', suspect: 'apply', dead: 'apply', left: 'apply' },
    newer: { alive: 'apply', suspect: 'apply', dead: 'apply', left: 'apply' },
  },
  suspect: {
    older: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
    equal: { alive: 'ignore', suspect: 'confirm', dead: 'apply', left: 'apply' },
    newer: { alive: 'apply', suspect: 'apply', dead: 'apply', left: 'apply' },
  },
  dead: {
    older: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
    equal: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'apply' },
    newer: { alive: 'apply', suspect: 'ignore', dead: 'ignore', left: 'apply' },
  },
  left: {
    older: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
    equal: { alive: 'ignore', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
    newer: { alive: 'apply', suspect: 'ignore', dead: 'ignore', left: 'ignore' },
  },
}

const CURRENT_INCARNATION = 5
const UPDATE_INCARNATION: Record<Age, number> = { older: 4, equal: 5, newer: 6 }

const rows = MEMBER_STATES.flatMap((current) =>
  (['older', 'equal', 'newer'] as const).flatMap((age) =>
    MEMBER_STATES.map((update) => [current, age, update, TABLE[current][age][update]] as const)))

describe('precedence: judge / shouldApply', () => {
  it('covers every current state × older/equal/newer × update state', () => {
    expect(rows).toHaveLength(4 * 3 * 4)
  })

  it.each(rows)('current %s, %s incarnation, update %s → %s', (current, age, update, verdict) => {
    const cur = { state: current, incarnation: CURRENT_INCARNATION }
    const upd = { state: update, incarnation: UPDATE_INCARNATION[age] }
    expect(judge(cur, upd)).toBe(verdict)
    expect(shouldApply(cur, upd)).toBe(verdict === 'apply')
  })

  it.each([
    ['alive', 'apply'],
    ['suspect', 'ignore'],
    ['dead', 'ignore'],
    ['left', 'ignore'],
  ] as const)('unknown member, update %s → %s', (update, verdict) => {
    expect(judge(undefined, { state: update, incarnation: 0 })).toBe(verdict)
    expect(judge(undefined, { state: update, incarnation: 9 })).toBe(verdict)
  })

  it('looks at the incarnation order, not its distance', () => {
    expect(judge({ state: 'dead', incarnation: 1 }, { state: 'alive', incarnation: 1_000_000 })).toBe('apply')
    expect(judge({ state: 'alive', incarnation: 1_000_000 }, { state: 'dead', incarnation: 1 })).toBe('ignore')
    expect(judge({ state: 'alive', incarnation: 0 }, { state: 'suspect', incarnation: 0 })).toBe('apply')
  })

  it('a left member stays left against a later dead, and comes back only by a newer alive', () => {
    let current = { state: 'alive' as MemberState, incarnation: 3 }
    const sequence = [
      { state: 'left', incarnation: 3 },
      { state: 'dead', incarnation: 3 },
      { state: 'dead', incarnation: 7 },
      { state: 'suspect', incarnation: 8 },
      { state: 'alive', incarnation: 3 },
      { state: 'alive', incarnation: 4 },
    ] as const
    const seen: MemberState[] = []
    for (const update of sequence) {
      if (shouldApply(current, update)) current = { ...update }
      seen.push(current.state)
    }
    expect(seen).toEqual(['left', 'left', 'left', 'left', 'left', 'alive'])
  })
})

describe('versionOf', () => {
  const addresses = { gossip: 'a:1' }
  const meta = { version: '1', role: 'hub' as const }
  it.each([
    [{ type: 'alive', incarnation: 2, node: 'h1', addresses, meta }, { state: 'alive', incarnation: 2 }],
    [{ type: 'suspect', incarnation: 3, node: 'h1', from: 'h2' }, { state: 'suspect', incarnation: 3 }],
    [{ type: 'dead', incarnation: 4, node: 'h1', from: 'h2' }, { state: 'dead', incarnation: 4 }],
    [{ type: 'dead', incarnation: 5, node: 'h1', from: 'h1' }, { state: 'left', incarnation: 5 }],
  ] as const)('%j → %j', (message, version) => {
    expect(versionOf(message)).toEqual(version)
  })
})

describe('mayMoveAddress: who may take a member id from another gossip address', () => {
  const RECLAIM_MS = 30_000
  it.each([
    // state, dead/left for (ms), reclaim setting (ms), may move
    ['alive', 3_600_000, RECLAIM_MS, false],
    ['suspect', 3_600_000, RECLAIM_MS, false],
    ['left', 0, RECLAIM_MS, true],
    ['left', 0, 0, true],
    ['dead', 0, RECLAIM_MS, false],
    ['dead', RECLAIM_MS - 1, RECLAIM_MS, false],
    ['dead', RECLAIM_MS, RECLAIM_MS, true],
    ['dead', 3_600_000, 0, false],
  ] as const)('%s for %i ms, reclaim after %i ms → %s', (state, ageMs, reclaimMs, expected) => {
    const nowMs = 1_000_000_000
    expect(mayMoveAddress({ state, stateChangeMs: nowMs - ageMs }, nowMs, reclaimMs)).toBe(expected)
  })
})
