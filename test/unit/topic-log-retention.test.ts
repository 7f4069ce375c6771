import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { HubDb } from '../../hub/src/store/db.js'
import { TopicLog, type LogEntry } from '../../hub/src/store/topic-log.js'

const dbs: HubDb[] = []
afterEach(() => { for (const db of dbs.splice(0)) db.close() })

const NOW = 1_800_000_000_000

function entry(key: string, seq: number, ageMs: number, bytes = 10, epoch = 1): LogEntry {
  return { key, epoch, seq, topic: `${key}/t`, payload: Buffer.alloc(bytes, 1), qos: 1, retain: false, tsMs: NOW - ageMs }
}

/** A log on a virtual clock: commits happen when the test flushes. */
async function logWith(entries: LogEntry[]): Promise<{ log: TopicLog, prune: (limits: Parameters<TopicLog['prune']>[0]) => ReturnType<TopicLog['prune']> }> {
  const db = HubDb.open({ path: ':memory:', clock: new ManualClock(), log: silentLogger(), groupCommitMs: 0 })
  dbs.push(db)
  const log = new TopicLog(db)
  for (const e of entries) void log.append(e)
  db.flush()
  return {
    log,
    prune: (limits) => {
      const done = log.prune(limits, NOW)
      db.flush()
      return done
    },
  }
}

const seqs = (log: TopicLog, key: string): string[] => log.since(key, { epoch: 0, seq: 0 }, 10_000).map((e) => `${e.epoch}:${e.seq}`)

describe('TopicLog retention', () => {
  it.each([
    // name, limits, expected remaining seqs of k1 (10 entries of 10 B, ages 900..0 s, seq 1 oldest)
    ['no limits', { maxAgeMs: 0, maxEntries: 0, maxBytes: 0 }, 10],
    ['by age: younger than 450 s', { maxAgeMs: 450_000, maxEntries: 0, maxBytes: 0 }, 5],
    ['by entries: newest 3', { maxAgeMs: 0, maxEntries: 3, maxBytes: 0 }, 3],
    ['by bytes: 35 B keeps 3', { maxAgeMs: 0, maxEntries: 0, maxBytes: 35 }, 3],
    ['by bytes: below one entry keeps the newest', { maxAgeMs: 0, maxEntries: 0, maxBytes: 5 }, 1],
    ['the tightest limit wins', { maxAgeMs: 450_000, maxEntries: 4, maxBytes: 1_000 }, 4],
  ] as const)('%s', async (_name, limits, kept) => {
    const { log, prune } = await logWith(Array.from({ length: 10 }, (_, i) => entry('devices/k1', i + 1, (9 - i) * 100_000)))
    const result = await prune(limits)
    const remaining = seqs(log, 'devices/k1')
    expect(remaining).toHaveLength(kept)
    // Always the newest ones, in order.
    expect(remaining).toEqual(Array.from({ length: kept }, (_, i) => `1:${10 - kept + 1 + i}`))
    expect(result).toEqual({ removed: 10 - kept, entries: kept, bytes: kept * 10 })
    expect(log.oldest('devices/k1')).toEqual({ epoch: 1, seq: 10 - kept + 1 })
  })

  it('counts per key and across epochs, leaving other keys alone', async () => {
    const { log, prune } = await logWith([
      entry('devices/a', 1, 0, 10, 1), entry('devices/a', 2, 0, 10, 1), entry('devices/a', 1, 0, 10, 2), entry('devices/a', 2, 0, 10, 2),
      entry('devices/b', 1, 0), entry('devices/b', 2, 0),
    ])
    await prune({ maxAgeMs: 0, maxEntries: 3, maxBytes: 0 })
    expect(seqs(log, 'devices/a')).toEqual(['1:2', '2:1', '2:2'])
    expect(seqs(log, 'devices/b')).toEqual(['1:1', '1:2'])
  })
})
