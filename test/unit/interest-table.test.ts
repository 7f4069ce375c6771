import { describe, expect, it } from 'vitest'
import { InterestTable } from '../../hub/src/routing/interest-table.js'

// Each row: steps applied to one table for peer P (and Q), then who gets `devices/d1/t`.
type Step = ['replace' | 'add' | 'remove', string, string[]] | ['drop' | 'back', string]

function apply(steps: readonly Step[]): InterestTable {
  const table = new InterestTable()
  for (const step of steps) {
    if (step.length === 3) table[step[0]](step[1], step[2])
    else if (step[0] === 'drop') table.dropPeer(step[1])
    else table.peerBack(step[1])
  }
  return table
}

describe('InterestTable', () => {
  it.each<[string, Step[], string[]]>([
    ['keyed and global filters', [['add', 'P', ['devices/d1/#']], ['add', 'Q', ['devices/+/t']]], ['P', 'Q']],
    ['replace overwrites', [['add', 'P', ['devices/d1/#']], ['replace', 'P', ['devices/d2/#']]], []],
    ['remove of the last filter', [['add', 'P', ['devices/d1/#']], ['remove', 'P', ['devices/d1/#']]], []],
    ['a dead peer gets nothing', [['add', 'P', ['#']], ['drop', 'P']], []],
    // A hub wrongly declared dead refutes and is back: same subscriptions, no new announcement.
    ['back after a wrong death notice', [['add', 'P', ['#']], ['drop', 'P'], ['back', 'P']], ['P']],
    ['a replace while dormant wins over the dormant set', [['add', 'P', ['#']], ['drop', 'P'], ['replace', 'P', ['devices/d2/#']], ['back', 'P']], []],
    ['an add while dormant adds to the dormant set', [['add', 'P', ['devices/d1/#']], ['drop', 'P'], ['add', 'P', ['devices/d2/#']]], ['P']],
    ['back without having died changes nothing', [['add', 'P', ['devices/d2/#']], ['back', 'P']], []],
    ['dead twice, back once', [['add', 'P', ['#']], ['drop', 'P'], ['drop', 'P'], ['back', 'P']], ['P']],
  ])('%s', (_name, steps, peers) => {
    expect([...apply(steps).peersFor('devices/d1/t')].sort()).toEqual(peers)
  })
})
