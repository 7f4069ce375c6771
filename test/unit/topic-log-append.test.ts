import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { HubDb } from '../../hub/src/store/db.js'
import { SINCE_SQL, TopicLog, type LogEntry } from '../../hub/src/store/topic-log.js'

// The owner's hot path: appends gather in memory, go into the table just before the group
// commit (one prepared single-row INSERT each), and share the batch's promise.

const dbs: HubDb[] = []
afterEach(() => { for (const db of dbs.splice(0)) db.close() })

function open(): { db: HubDb, log: TopicLog } {
  const db = HubDb.open({ path: ':memory:', clock: new ManualClock(), log: silentLogger(), groupCommitMs: 0 })
  dbs.push(db)
  return { db, log: new TopicLog(db) }
}

const entry = (key: string, seq: number): LogEntry => ({
  key, epoch: 2, seq, topic: `${key}/t${seq % 3}`, payload: Buffer.from(`m${seq}`), qos: (seq % 3) as 0 | 1 | 2, retain: seq % 5 === 0, tsMs: 1_000 + seq,
})

describe('TopicLog.append', () => {
  it.each([1, 31, 32, 33, 100, 1000])('keeps %i entries of one batch in append order, every field intact', async (n) => {
    const { db, log } = open()
    const entries = Array.from({ length: n }, (_, i) => entry(i % 2 === 0 ? 'devices/a' : 'devices/b', Math.floor(i / 2) + 1))
    const promises = entries.map((e) => log.append(e))
    expect(new Set(promises).size).toBe(1) // one batch, one commit promise
    db.flush()
    await Promise.all(promises)
    for (const key of ['devices/a', 'devices/b']) {
      const mine = entries.filter((e) => e.key === key)
      expect(log.since(key, { epoch: 0, seq: 0 }, 10_000)).toEqual(mine)
    }
  })

  it('shows appended entries to reads before the commit, and keeps appending after such a read', async () => {
    const { db, log } = open()
    const first = log.append(entry('devices/a', 1))
    expect(log.since('devices/a', { epoch: 0, seq: 0 }).map((e) => e.seq)).toEqual([1])
    expect(log.state('devices/a')).toEqual({ epoch: 2, seq: 1 })
    const second = log.append(entry('devices/a', 2))
    expect(log.size('devices/a')).toBe(2)
    db.flush()
    await Promise.all([first, second])
    expect(log.since('devices/a', { epoch: 2, seq: 1 }).map((e) => e.seq)).toEqual([2])
  })

  it('reads after an offset across epochs, and starts at the offset in the primary key instead of walking the key from its first entry', async () => {
    const { db, log } = open()
    const appended = [1, 2, 3].map((seq) => log.append({ ...entry('devices/a', seq), epoch: 1 })).concat([1, 2].map((seq) => log.append(entry('devices/a', seq))))
    db.flush()
    await Promise.all(appended)
    const read = (epoch: number, seq: number, limit?: number): string[] => log.since('devices/a', { epoch, seq }, limit).map((e) => `${e.epoch}:${e.seq}`)
    expect(read(0, 0)).toEqual(['1:1', '1:2', '1:3', '2:1', '2:2'])
    expect(read(1, 2)).toEqual(['1:3', '2:1', '2:2'])
    expect(read(1, 3, 1)).toEqual(['2:1'])
    expect(read(2, 2)).toEqual([])
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${SINCE_SQL}`).all('devices/a', 1, 2, 10) as Array<{ detail: string }>
    expect(plan.map((p) => p.detail)).toEqual(['SEARCH topic_log USING PRIMARY KEY (key=? AND (epoch,seq)>(?,?))'])
  })

  it('fails the batch when an entry repeats an offset (the sequencer never gives one twice)', async () => {
    const { db, log } = open()
    const a = log.append(entry('devices/a', 1))
    const b = log.append(entry('devices/a', 1))
    db.flush()
    await expect(Promise.all([a, b])).rejects.toThrow()
    expect(log.size('devices/a')).toBe(0)
  })

  it('stores a replica batch in one write, keeping a copy already held and the rest of the batch', async () => {
    const { db, log } = open()
    const held = log.appendReplica([entry('devices/a', 1), entry('devices/a', 2)])
    db.flush()
    await held
    const changed = { ...entry('devices/a', 2), payload: Buffer.from('other') }
    const batch = log.appendReplica([changed, entry('devices/a', 3), entry('devices/b', 1)])
    db.flush()
    await batch
    expect(log.since('devices/a', { epoch: 0, seq: 0 })).toEqual([entry('devices/a', 1), entry('devices/a', 2), entry('devices/a', 3)])
    expect(log.since('devices/b', { epoch: 0, seq: 0 })).toEqual([entry('devices/b', 1)])
  })
})
