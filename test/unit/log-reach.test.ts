import { describe, expect, it } from 'vitest'
import { follows, mayLackAfter, offsetBefore, readFrom, withOlder, type LogRead } from '../../hub/src/routing/log-reach.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

const at = (epoch: number, seq: number): Offset => ({ epoch, seq })
const entry = (epoch: number, seq: number): LogEntry => ({ key: 'devices/d1', epoch, seq, topic: 'devices/d1/t', payload: Buffer.from(`${epoch}:${seq}`), qos: 1, retain: false, tsMs: 0 })
const run = (epoch: number, from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(epoch, from + i))
const names = (entries: LogEntry[]): string[] => entries.map((e) => `${e.epoch}:${e.seq}`)
const log = (entries: LogEntry[], oldest: Offset | null = entries[0] ? at(entries[0].epoch, entries[0].seq) : null): LogRead => ({ entries, oldest })

describe('offsetBefore and follows', () => {
  it('orders by epoch, then seq', () => {
    expect(offsetBefore(at(1, 9), at(2, 1))).toBe(true)
    expect(offsetBefore(at(2, 1), at(1, 9))).toBe(false)
    expect(offsetBefore(at(2, 3), at(2, 4))).toBe(true)
    expect(offsetBefore(at(2, 4), at(2, 4))).toBe(false)
  })

  it('takes only the next seq of an epoch, or 1:1 after the beginning, as surely the next entry', () => {
    expect(follows(at(2, 3), at(2, 4))).toBe(true)
    expect(follows(at(2, 3), at(2, 5))).toBe(false)
    expect(follows(at(0, 0), at(1, 1))).toBe(true)
    // Whether epoch 2 went on after seq 3 cannot be told from the offsets.
    expect(follows(at(2, 3), at(3, 1))).toBe(false)
    expect(follows(at(0, 0), at(2, 1))).toBe(false)
  })
})

describe('mayLackAfter', () => {
  it('is false when the log reaches back to the offset or right after it', () => {
    expect(mayLackAfter(at(3, 10), at(3, 2))).toBe(false)
    expect(mayLackAfter(at(3, 10), at(3, 10))).toBe(false)
    expect(mayLackAfter(at(3, 10), at(3, 11))).toBe(false)
    expect(mayLackAfter(at(0, 0), at(1, 1)), 'epochs start at 1').toBe(false)
  })

  it('is true when the log starts later in the same epoch, in a later epoch, or holds nothing of the key', () => {
    expect(mayLackAfter(at(3, 10), at(3, 12))).toBe(true)
    expect(mayLackAfter(at(3, 10), at(4, 1))).toBe(true)
    expect(mayLackAfter(at(0, 0), at(2, 1))).toBe(true)
    expect(mayLackAfter(at(0, 0), null)).toBe(true)
  })
})

describe('withOlder', () => {
  it('puts what the others hold between the offset and the owner\'s oldest entry first, once each, in order, when it runs on to that entry', () => {
    const owner = log(run(1, 10, 12))
    // The others answer up to and including the owner's oldest entry (`through`).
    const earlierOwner = log(run(1, 5, 10), at(1, 1))
    const replica = log(run(1, 7, 10).reverse(), at(1, 4))
    const read = withOlder(at(1, 4), 100, owner, [earlierOwner, replica])
    expect(names(read.entries)).toEqual(['1:5', '1:6', '1:7', '1:8', '1:9', '1:10', '1:11', '1:12'])
    expect(read.oldest).toEqual(at(1, 1))
    // The owner's own entries, not the others' copies of them.
    expect(read.entries[5]).toBe(owner.entries[0])
  })

  it('crosses an epoch boundary only where one hub\'s log holds both sides next to each other', () => {
    const owner = log(run(2, 3, 4))
    const earlierOwner = log([...run(1, 1, 3), ...run(2, 1, 3)], at(1, 1))
    expect(names(withOlder(at(0, 0), 100, owner, [earlierOwner]).entries)).toEqual(['1:1', '1:2', '1:3', '2:1', '2:2', '2:3', '2:4'])
    // The same entries from two hubs, neither holding 1:3 and 2:1 together: epoch 1 may have gone on.
    const split = withOlder(at(0, 0), 100, owner, [log(run(1, 1, 3)), log(run(2, 1, 3))])
    expect(split).toBe(owner)
    // The step to the owner's oldest entry likewise: a run ending at 1:4 before an owner starting at 2:1.
    const ownerAt2 = log(run(2, 1, 3))
    expect(withOlder(at(1, 2), 100, ownerAt2, [log(run(1, 3, 4), at(1, 1))])).toBe(ownerAt2)
    expect(names(withOlder(at(1, 2), 100, ownerAt2, [log([...run(1, 3, 4), entry(2, 1)], at(1, 1))]).entries)).toEqual(['1:3', '1:4', '2:1', '2:2', '2:3'])
    // Nor the step from the offset into a later epoch, unless the hub's answer begins with the
    // offset itself (the others are read from just before it: `readFrom`).
    const ownerAt2s10 = log(run(2, 10, 11))
    expect(withOlder(at(1, 2), 100, ownerAt2s10, [log(run(2, 1, 10), at(1, 1))])).toBe(ownerAt2s10)
    const fromEpochEnd = withOlder(at(1, 2), 100, ownerAt2s10, [log([entry(1, 2), ...run(2, 1, 10)], at(1, 1))])
    expect(names(fromEpochEnd.entries)).toEqual([...Array.from({ length: 9 }, (_, i) => `2:${i + 1}`), '2:10', '2:11'])
    expect(fromEpochEnd.entries.some((e) => e.epoch === 1), 'the offset itself is not in the answer').toBe(false)
  })

  it('reads the others from just before the offset, so that their answers begin with it', () => {
    expect(readFrom(at(3, 7))).toEqual(at(3, 6))
    expect(readFrom(at(3, 1))).toEqual(at(3, 0))
    expect(readFrom(at(0, 0))).toEqual(at(0, 0))
  })

  it('keeps at most `limit`, the oldest first: a page of the others\' entries alone', () => {
    const owner = log(run(1, 4, 6))
    const read = withOlder(at(0, 0), 2, owner, [log(run(1, 1, 4))])
    expect(names(read.entries)).toEqual(['1:1', '1:2'])
    expect(read.oldest).toEqual(at(1, 1))
    expect(names(withOlder(at(0, 0), 4, owner, [log(run(1, 1, 4))]).entries)).toEqual(['1:1', '1:2', '1:3', '1:4'])
    expect(names(withOlder(at(0, 0), 5, owner, [log(run(1, 1, 4))]).entries)).toEqual(['1:1', '1:2', '1:3', '1:4', '1:5'])
  })

  it('answers with the owner\'s read when the others\' entries stop short of it or leave some out: the gap shows in `oldest`, a short page still ends the log', () => {
    // An earlier owner still holds the first entries of epoch 1; retention left every current
    // log only the newest of epoch 2.
    const owner = log(run(2, 10_001, 10_003))
    expect(withOlder(at(0, 0), 100, owner, [log(run(1, 1, 5))])).toBe(owner)
    // A hole inside the others' part.
    const ownerAt10 = log(run(1, 10, 12))
    expect(withOlder(at(1, 0), 100, ownerAt10, [log(run(1, 1, 3)), log(run(1, 6, 10))])).toBe(ownerAt10)
    // A hole, and an owner starting a later epoch: entries the run left out are not skipped.
    const ownerAt2 = log(run(2, 1, 3))
    expect(withOlder(at(1, 0), 100, ownerAt2, [log([...run(1, 1, 3), entry(2, 1)]), log([...run(1, 6, 7), entry(2, 1)])])).toBe(ownerAt2)
    // Their first entry does not follow the offset.
    expect(withOlder(at(1, 2), 100, ownerAt10, [log(run(1, 5, 10))])).toBe(ownerAt10)
  })

  it('takes nothing at or before the offset from the others, nor anything from the owner\'s oldest entry on', () => {
    const owner = log(run(1, 5, 7))
    const read = withOlder(at(1, 2), 100, owner, [log(run(1, 1, 7))])
    expect(names(read.entries)).toEqual(['1:3', '1:4', '1:5', '1:6', '1:7'])
    expect(read.entries.slice(2)).toEqual(owner.entries)
    expect(read.entries[2]).toBe(owner.entries[0])
  })

  it('answers the owner\'s read as it is when the others hold nothing older', () => {
    const owner = log(run(3, 1, 2))
    expect(withOlder(at(0, 0), 100, owner, [log([]), log([], at(2, 7))])).toBe(owner)
  })

  it('reads the others\' entries as one log when the owner holds nothing of the key, under the same rule', () => {
    const nothing = log([])
    const read = withOlder(at(1, 1), 100, nothing, [log(run(1, 2, 3), at(1, 1)), log(run(1, 3, 4), at(1, 3))])
    expect(names(read.entries)).toEqual(['1:2', '1:3', '1:4'])
    expect(read.oldest).toEqual(at(1, 1))
    // A hole, or a start that does not follow the offset: nothing, as the owner answered.
    expect(withOlder(at(1, 0), 100, nothing, [log(run(1, 1, 3)), log(run(1, 6, 7))])).toBe(nothing)
    expect(withOlder(at(1, 5), 100, nothing, [log([], at(1, 1)), log(run(1, 9, 12))])).toBe(nothing)
  })
})
