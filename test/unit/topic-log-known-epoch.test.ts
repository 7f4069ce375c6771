import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { HubDb } from '../../hub/src/store/db.js'
import { TopicLog, type LogEntry } from '../../hub/src/store/topic-log.js'

// `knownEpoch` is what a replica fences every copy with: it must name the highest epoch the hub
// started or holds, whichever write brought it, and must not drop when retention deletes entries.

const dbs: HubDb[] = []
const dirs: string[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function open(path = ':memory:', maxKnownEpochs?: number): { db: HubDb, log: TopicLog } {
  const db = HubDb.open({ path, clock: new ManualClock(), log: silentLogger(), groupCommitMs: 0 })
  dbs.push(db)
  return { db, log: new TopicLog(db, maxKnownEpochs) }
}

const entry = (key: string, epoch: number, seq: number, tsMs = 1_000): LogEntry => ({
  key, epoch, seq, topic: `${key}/t`, payload: Buffer.from(`m${seq}`), qos: 1, retain: false, tsMs,
})

describe('TopicLog.knownEpoch', () => {
  it('is 0 for a key never seen, then follows appends, copies, started and noted epochs', async () => {
    const { db, log } = open()
    const key = 'devices/a'
    expect(log.knownEpoch(key)).toBe(0) // asked first: cached from here on
    void log.append(entry(key, 2, 1))
    expect(log.knownEpoch(key)).toBe(2)
    void log.appendReplica([entry(key, 4, 1)])
    expect(log.knownEpoch(key)).toBe(4)
    void log.startEpoch(key, 6)
    expect(log.knownEpoch(key)).toBe(6)
    void log.noteEpoch(key, 9)
    expect(log.knownEpoch(key)).toBe(9)
    // Lower epochs never lower it.
    void log.appendReplica([entry(key, 3, 7)])
    void log.noteEpoch(key, 5)
    expect(log.knownEpoch(key)).toBe(9)
    db.flush()
    expect(log.state(key)?.epoch).toBe(9)
  })

  it('reads what the files hold when first asked (a restarted hub)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-known-epoch-'))
    dirs.push(dir)
    const path = join(dir, 'hub.db')
    const first = open(path)
    void first.log.appendReplica([entry('devices/a', 3, 1)])
    void first.log.startEpoch('devices/b', 5)
    first.db.flush()
    first.db.close()
    dbs.splice(dbs.indexOf(first.db), 1)
    const { log } = open(path)
    expect(log.knownEpoch('devices/a')).toBe(3)
    expect(log.knownEpoch('devices/b')).toBe(5)
    expect(log.knownEpoch('devices/c')).toBe(0)
  })

  it('keeps an epoch whose entries retention deleted', async () => {
    const { db, log } = open()
    const key = 'devices/a'
    void log.appendReplica([entry(key, 7, 1, 0)])
    db.flush()
    expect(log.knownEpoch(key)).toBe(7)
    const pruned = log.prune({ maxAgeMs: 1, maxEntries: 0, maxBytes: 0 }, 10_000)
    db.flush()
    expect((await pruned).removed).toBe(1)
    expect(log.state(key)).toBeUndefined() // the table forgot it…
    expect(log.knownEpoch(key)).toBe(7) // …the fence does not
  })

  it('keeps at most maxKnownEpochs keys, and reads a forgotten one again from the files', async () => {
    const { db, log } = open(':memory:', 2)
    void log.startEpoch('devices/a', 3)
    void log.appendReplica([entry('devices/b', 5, 1)])
    db.flush()
    expect(log.knownEpoch('devices/a')).toBe(3)
    expect(log.knownEpoch('devices/b')).toBe(5)
    expect(log.knownEpoch('devices/c')).toBe(0) // a is forgotten
    void log.noteEpoch('devices/a', 4) // not cached: written only
    void log.appendReplica([entry('devices/b', 6, 1)]) // cached: raised
    expect(log.knownEpoch('devices/a')).toBe(4) // read again, sees the noted epoch
    expect(log.knownEpoch('devices/c')).toBe(0) // b was forgotten meanwhile…
    expect(log.knownEpoch('devices/b')).toBe(6) // …and is read again
  })
})
