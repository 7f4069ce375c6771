import { describe, expect, it } from 'vitest'
import { resumeErrorText } from '../../hub/src/routing/resume.js'
import { offsetAfter } from '../../hub/src/contract/channels.js'
import { LogUnknownError, follows, mayLackAfter, readAcross, readFrom, readKeyLog, withOlder, type LogRead, type LogSource } from '../../hub/src/routing/log-reach.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

const at = (epoch: number, seq: number): Offset => ({ epoch, seq })
const entry = (epoch: number, seq: number): LogEntry => ({ key: 'devices/d1', epoch, seq, topic: 'devices/d1/t', payload: Buffer.from(`${epoch}:${seq}`), qos: 1, retain: false, tsMs: 0 })
const run = (epoch: number, from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(epoch, from + i))
const names = (entries: LogEntry[]): string[] => entries.map((e) => `${e.epoch}:${e.seq}`)
const log = (entries: LogEntry[], oldest: Offset | null = entries[0] ? at(entries[0].epoch, entries[0].seq) : null): LogRead => ({ entries, oldest })

describe('offsetAfter and follows', () => {
  it('orders by epoch, then seq', () => {
    expect(offsetAfter(at(2, 1), at(1, 9))).toBe(true)
    expect(offsetAfter(at(1, 9), at(2, 1))).toBe(false)
    expect(offsetAfter(at(2, 4), at(2, 3))).toBe(true)
    expect(offsetAfter(at(2, 4), at(2, 4))).toBe(false)
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

  it('reads on from an offset at the end of an epoch into the owner\'s log that starts the next one, where a hub holds both', () => {
    const owner = log(run(2, 1, 3))
    // The others' answers begin with the offset itself (`readFrom`) and end at the owner's oldest (`through`).
    const read = withOlder(at(1, 1_000), 100, owner, [log([entry(1, 1_000), entry(2, 1)], at(1, 1))])
    expect(names(read.entries)).toEqual(['2:1', '2:2', '2:3'])
    expect(read.entries[0]).toBe(owner.entries[0])
    expect(read.oldest).toEqual(at(1, 1))
    // Without a hub holding both sides, the owner's answer: its oldest (2:1) shows the possible gap.
    expect(withOlder(at(1, 1_000), 100, owner, [log([entry(2, 1)], at(2, 1))])).toBe(owner)
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
    // A hole, or a start that does not follow the offset: no entries, `oldest` at the first one
    // the run could not reach (after the offset: the reader sees the gap).
    expect(withOlder(at(1, 0), 100, nothing, [log(run(1, 1, 3)), log(run(1, 6, 7))])).toEqual({ entries: [], oldest: at(1, 6) })
    expect(withOlder(at(1, 5), 100, nothing, [log([], at(1, 1)), log(run(1, 9, 12))])).toEqual({ entries: [], oldest: at(1, 9) })
    expect(withOlder(at(0, 0), 100, nothing, [log([]), log([])])).toBe(nothing)
  })

  it('does not cross a seq skipped inside an epoch, even where one hub\'s log skips it (a key taken back)', () => {
    const owner = log(run(3, 3, 4))
    const takenBack = log([...run(1, 1, 5), ...run(2, 4, 6), ...run(3, 1, 3)])
    expect(withOlder(at(0, 0), 100, owner, [takenBack])).toBe(owner)
  })
})

describe('readAcross (seeded property: pages read through readKeyLog)', () => {
  /** A small PRNG (mulberry32), so a failure can be repeated from its printed seed. */
  const rng = (seed: number): (() => number) => () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const seed = Number(process.env.RINGHUB_LOG_REACH_SEED ?? Date.now() % 1_000_000)

  /** A hub's log as the router reads it (`since`, then `through`), or a hub that does not answer. */
  const source = (held: Offset[], down: boolean): LogSource => async (after, limit, through) => {
    if (down) throw new Error('no answer')
    const entries = held.filter((o) => offsetAfter(o, after)).slice(0, limit).filter((o) => !through || !offsetAfter(o, through)).map((o) => entry(o.epoch, o.seq))
    return { entries, oldest: held[0] ?? null }
  }

  it('cannot answer when the owner holds nothing and a hub that may hold more did not answer, unless the others fill the page', async () => {
    const none: LogSource = async () => ({ entries: [], oldest: null })
    const holds: LogSource = async (after, limit) => ({ entries: run(1, 1, 2).filter((e) => offsetAfter(e, after)).slice(0, limit), oldest: at(1, 1) })
    const down: LogSource = async () => { throw new Error('no answer') }
    const failed: number[] = []
    await expect(readAcross(at(0, 0), 10, none, [holds, down], (_err, i) => failed.push(i))).rejects.toThrow(LogUnknownError)
    expect(failed).toEqual([1])
    await expect(readAcross(at(0, 0), 10, none, [down], () => {})).rejects.toThrow('the key\'s owner holds none of its log, and a hub that may did not answer')
    const full = await readAcross(at(0, 0), 2, none, [holds, down], () => {})
    expect({ entries: names(full.entries), merged: full.merged }).toEqual({ entries: ['1:1', '1:2'], merged: true })
    expect(resumeErrorText(new LogUnknownError(2))).toBe('the key\'s owner holds none of its log, and 2 hubs that may did not answer')
    expect(resumeErrorText(new Error('timed out'))).toBe('the key\'s owner did not answer: timed out')
  })

  it(`never reports a complete read that skips an entry, and reads without a gap whatever one unbroken log can vouch for (seed ${seed})`, async () => {
    console.log(`log-reach property seed ${seed} (RINGHUB_LOG_REACH_SEED to repeat)`)
    const rand = rng(seed)
    const pick = (n: number): number => Math.floor(rand() * n)
    let complete = 0
    for (let i = 0; i < 3_000; i++) {
      const history: Offset[] = []
      for (let e = 1, epochs = 1 + pick(3); e <= epochs; e++) for (let q = 1, n = 1 + pick(5); q <= n; q++) history.push(at(e, q))
      const h = history.length
      // The owner holds the newest part (maybe nothing); each other hub an unbroken stretch.
      const ownerFrom = pick(h + 1)
      const hubs = Array.from({ length: 1 + pick(3) }, () => { const a = pick(h); return { held: history.slice(a, a + 1 + pick(h - a)), down: rand() < 0.2 } })
      const limit = 1 + pick(4)
      const sinceAt = pick(h + 1)
      const since = sinceAt === 0 ? at(0, 0) : history[sinceAt - 1] as Offset
      const ownerHeld = history.slice(ownerFrom)
      // What exists after `since` as far as anyone can know: up to the newest entry some hub
      // holds (the owner holds the newest; an owner holding nothing leaves later ones unknown).
      const newest = Math.max(ownerHeld.length > 0 ? h - 1 : -1, ...hubs.map((hub) => hub.held.length > 0 ? history.indexOf(hub.held.at(-1) as Offset) : -1))
      const truth = names(history.slice(sinceAt, newest + 1).map((o) => entry(o.epoch, o.seq)))
      const read = (from: Offset): Promise<LogRead> => readAcross(from, limit, source(ownerHeld, false), hubs.map((hub) => source(hub.held, hub.down)), () => {})
      const got = await readKeyLog(read, since, limit).catch((err: unknown) => {
        if (!(err instanceof LogUnknownError)) throw err
        return { complete: false, entries: [] }
      })
      const context = JSON.stringify({ seed, i, history: history.map((o) => `${o.epoch}:${o.seq}`).join(' '), owner: ownerFrom, hubs: hubs.map((hub) => `${hub.down ? 'down ' : ''}${hub.held.map((o) => `${o.epoch}:${o.seq}`).join(' ')}`), limit, since })
      if (got.complete) {
        complete++
        expect(names(got.entries), context).toEqual(truth)
      }
      // Everything after `since` held by the owner or a hub that answers, each epoch boundary
      // inside one log that holds both sides (or reached at 1:1 from the beginning): readable.
      const up = [ownerHeld, ...hubs.filter((hub) => !hub.down).map((hub) => hub.held)]
      const key = (o: Offset): string => `${o.epoch}:${o.seq}`
      const held = new Set(up.flat().map(key))
      const together = new Set(up.flatMap((l) => l.slice(1).map((o, j) => `${key(l[j] as Offset)}>${key(o)}`)))
      const chain = [since, ...history.slice(sinceAt)]
      const provable = history.slice(sinceAt).every((o, j) => held.has(key(o)) && (follows(chain[j] as Offset, o) || together.has(`${key(chain[j] as Offset)}>${key(o)}`)))
      if (provable && ownerHeld.length > 0) expect(got.complete, `a false gap: ${context}`).toBe(true)
    }
    expect(complete).toBeGreaterThan(1_000)
  })
})
