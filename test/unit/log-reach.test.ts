import { describe, expect, it } from 'vitest'
import { mayLackAfter, offsetBefore, withOlder } from '../../hub/src/routing/log-reach.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

const at = (epoch: number, seq: number): Offset => ({ epoch, seq })
const entry = (epoch: number, seq: number): LogEntry => ({ key: 'devices/d1', epoch, seq, topic: 'devices/d1/t', payload: Buffer.from(`${epoch}:${seq}`), qos: 1, retain: false, tsMs: 0 })
const run = (epoch: number, from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(epoch, from + i))
const names = (entries: LogEntry[]): string[] => entries.map((e) => `${e.epoch}:${e.seq}`)

describe('offsetBefore', () => {
  it('orders by epoch, then seq', () => {
    expect(offsetBefore(at(1, 9), at(2, 1))).toBe(true)
    expect(offsetBefore(at(2, 1), at(1, 9))).toBe(false)
    expect(offsetBefore(at(2, 3), at(2, 4))).toBe(true)
    expect(offsetBefore(at(2, 4), at(2, 4))).toBe(false)
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
    // Each epoch numbers from 1: whether epoch 3 went on after seq 10 cannot be told from here.
    expect(mayLackAfter(at(3, 10), at(4, 1))).toBe(true)
    expect(mayLackAfter(at(0, 0), at(2, 1))).toBe(true)
    expect(mayLackAfter(at(0, 0), null)).toBe(true)
  })
})

describe('withOlder', () => {
  it('puts what the others hold between the offset and the owner\'s oldest entry first, once each, in order', () => {
    const owner = { entries: run(2, 1, 3), oldest: at(2, 1) }
    const earlierOwner = { entries: [...run(1, 5, 9), ...run(2, 1, 2)], oldest: at(1, 1) }
    const replica = { entries: run(1, 7, 9).reverse(), oldest: at(1, 4) }
    const read = withOlder(at(1, 4), 100, owner, [earlierOwner, replica])
    expect(names(read.entries)).toEqual(['1:5', '1:6', '1:7', '1:8', '1:9', '2:1', '2:2', '2:3'])
    expect(read.oldest).toEqual(at(1, 1))
  })

  it('keeps at most `limit`, the oldest first', () => {
    const read = withOlder(at(0, 0), 4, { entries: run(2, 1, 3), oldest: at(2, 1) }, [{ entries: run(1, 1, 3), oldest: at(1, 1) }])
    expect(names(read.entries)).toEqual(['1:1', '1:2', '1:3', '2:1'])
  })

  it('takes nothing at or before the offset from the others, nor anything from the owner\'s oldest entry on', () => {
    const owner = { entries: run(1, 5, 7), oldest: at(1, 5) }
    const read = withOlder(at(1, 2), 100, owner, [{ entries: run(1, 1, 7), oldest: at(1, 1) }])
    expect(names(read.entries)).toEqual(['1:3', '1:4', '1:5', '1:6', '1:7'])
    expect(read.entries.slice(2)).toEqual(owner.entries)
    expect(read.entries[2]).toBe(owner.entries[0])
  })

  it('answers the owner\'s read as it is when the others hold nothing older, the oldest offset being the smallest any holds', () => {
    const owner = { entries: run(3, 1, 2), oldest: at(3, 1) }
    const read = withOlder(at(0, 0), 100, owner, [{ entries: [], oldest: null }, { entries: [], oldest: at(2, 7) }])
    expect(read.entries).toBe(owner.entries)
    expect(read.oldest).toEqual(at(2, 7))
  })

  it('reads everything after the offset from the others when the owner holds nothing of the key', () => {
    const read = withOlder(at(1, 1), 100, { entries: [], oldest: null }, [{ entries: run(1, 2, 3), oldest: at(1, 1) }])
    expect(names(read.entries)).toEqual(['1:2', '1:3'])
    expect(read.oldest).toEqual(at(1, 1))
  })
})
