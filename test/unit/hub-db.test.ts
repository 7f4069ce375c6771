import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { StoreError } from '../../hub/src/base/errors.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { HubMetrics } from '../../hub/src/metrics/hub-metrics.js'
import { createLogger } from '../../hub/src/base/log.js'
import { HubDb, type HubDbOptions } from '../../hub/src/store/db.js'
import { isStoreFailure, storeFailureReason } from '../../hub/src/store/store-failure.js'
import { migrations } from '../../hub/src/store/migrations.js'

const root = mkdtempSync(join(tmpdir(), 'ringhub-db-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const open: HubDb[] = []
afterEach(() => { for (const db of open.splice(0)) db.close() })

let fileNo = 0
const freshPath = (): string => join(root, `t${++fileNo}`, 'hub.sqlite') // the directory does not exist yet

const ITEMS = 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)'

function setup(opts: Partial<HubDbOptions> = {}) {
  const clock = new ManualClock()
  const metrics = new HubMetrics()
  const db = HubDb.open({ path: freshPath(), clock, log: silentLogger(), metrics, migrations: [ITEMS], ...opts })
  open.push(db)
  const insert = db.sqlite.prepare<[string]>('INSERT INTO items (name) VALUES (?)')
  const names = (): string[] => db.read(() => db.sqlite.prepare<[], string>('SELECT name FROM items ORDER BY id').pluck().all())
  return { clock, metrics, db, insert, names }
}

/** Settles `promise` without awaiting it, so tests can look at it while the clock stands still. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'resolved' | 'rejected', value?: T, error?: unknown } = { status: 'pending' }
  promise.then((value) => { state.status = 'resolved'; state.value = value }, (error: unknown) => { state.status = 'rejected'; state.error = error })
  return state
}

const tick = (): Promise<void> => new Promise((resolve) => { queueMicrotask(resolve) })

/** A histogram's observation count and sum. */
async function histogram(metrics: HubMetrics, name: 'storeCommitOps' | 'storeCommitSeconds') {
  const { values } = await metrics[name].get()
  const of = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value
  return { count: of('_count'), sum: of('_sum') }
}

describe('HubDb group commit', () => {
  it('batches several writes into one commit and resolves them only after it', async () => {
    const { clock, metrics, db, insert, names } = setup()
    const writes = ['a', 'b', 'c', 'd', 'e'].map((name) => track(db.write(() => insert.run(name).changes)))
    await tick()
    expect(writes.map((w) => w.status)).toEqual(Array(5).fill('pending'))
    expect(names()).toEqual(['a', 'b', 'c', 'd', 'e']) // same connection: visible before COMMIT
    expect(db.sqlite.inTransaction).toBe(true)

    clock.advance(2)
    await tick()
    expect(writes.map((w) => w.status)).toEqual(Array(5).fill('resolved'))
    expect(writes[0]?.value).toBe(1)
    expect(db.sqlite.inTransaction).toBe(false)
    expect(await histogram(metrics, 'storeCommitOps')).toEqual({ count: 1, sum: 5 })
    expect((await histogram(metrics, 'storeCommitSeconds')).count).toBe(1)
  })

  it('starts a new batch after a commit', async () => {
    const { clock, metrics, db, insert } = setup()
    const first = db.write(() => insert.run('a'))
    clock.advance(2)
    await first
    const second = track(db.write(() => insert.run('b')))
    clock.advance(1)
    await tick()
    expect(second.status).toBe('pending')
    clock.advance(1)
    await tick()
    expect(second.status).toBe('resolved')
    expect(await histogram(metrics, 'storeCommitOps')).toEqual({ count: 2, sum: 2 })
  })

  it('a throwing write rejects alone and its changes are rolled back', async () => {
    const { clock, db, insert, names } = setup()
    const boom = new Error('boom')
    const a = track(db.write(() => insert.run('a')))
    const b = track(db.write(() => { insert.run('b'); throw boom }))
    const dup = track(db.write(() => insert.run('a'))) // UNIQUE violation from SQLite itself
    const c = track(db.write(() => insert.run('c')))
    clock.advance(2)
    await tick()
    expect([a.status, b.status, dup.status, c.status]).toEqual(['resolved', 'rejected', 'rejected', 'resolved'])
    expect(b.error).toBe(boom)
    expect(String(dup.error)).toMatch(/UNIQUE/)
    expect(names()).toEqual(['a', 'c'])
  })

  it('commits early when a batch reaches maxBatchWrites', async () => {
    const { db, insert, metrics } = setup({ maxBatchWrites: 3 })
    const writes = ['a', 'b', 'c'].map((name) => track(db.write(() => insert.run(name))))
    await tick()
    expect(writes.map((w) => w.status)).toEqual(['resolved', 'resolved', 'resolved'])
    expect(await histogram(metrics, 'storeCommitOps')).toEqual({ count: 1, sum: 3 })
  })

  it('flush() commits the open batch now', async () => {
    const { db, insert, clock } = setup()
    const w = track(db.write(() => insert.run('a')))
    db.flush()
    await tick()
    expect(w.status).toBe('resolved')
    expect(clock.pending).toBe(0) // the commit timer was cancelled
  })

  it('a failed COMMIT rejects the whole batch with StoreError, counts it, and the db stays usable', async () => {
    const { clock, metrics, db, names } = setup({
      migrations: [ITEMS, `CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (id INTEGER PRIMARY KEY,
          parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`],
    })
    const insert = db.sqlite.prepare<[string]>('INSERT INTO items (name) VALUES (?)')
    // A deferred foreign key is only checked at COMMIT, so the writes succeed and the commit fails.
    const a = track(db.write(() => insert.run('a')))
    const orphan = track(db.write(() => db.sqlite.prepare('INSERT INTO children (parent) VALUES (42)').run()))
    clock.advance(2)
    await tick()
    expect([a.status, orphan.status]).toEqual(['rejected', 'rejected'])
    expect(a.error).toBeInstanceOf(StoreError)
    expect(String((a.error as StoreError).cause)).toMatch(/FOREIGN KEY/)
    expect(names()).toEqual([])
    expect((await metrics.storeErrors.get()).values.find((v) => v.labels.reason === 'other')?.value).toBe(1)

    const b = db.write(() => insert.run('b'))
    clock.advance(2)
    await b
    expect(names()).toEqual(['b'])
  })

  it('read() runs at once and write() refuses async functions', async () => {
    const { db } = setup()
    expect(db.read(() => 42)).toBe(42)
    await expect(db.write(async () => 1)).rejects.toThrow(/synchronous/)
    expect(db.sqlite.inTransaction).toBe(false)
  })

  it('close() commits what is pending, is idempotent, and later writes reject', async () => {
    const path = freshPath()
    const clock = new ManualClock()
    const db = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })
    const w = db.write(() => db.sqlite.prepare('INSERT INTO items (name) VALUES (?)').run('kept'))
    db.close()
    db.close()
    await w
    await expect(db.write(() => 1)).rejects.toBeInstanceOf(StoreError)
    expect(() => db.read(() => 1)).toThrow(StoreError)

    const again = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })
    open.push(again)
    expect(again.read(() => again.sqlite.prepare('SELECT name FROM items').pluck().all())).toEqual(['kept'])
  })
})

describe('HubDb open and migrations', () => {
  it('sets WAL, foreign keys and synchronous, and brings user_version to the number of migrations', () => {
    const db = HubDb.open({ path: freshPath(), clock: new ManualClock(), log: silentLogger(), sync: 'full' })
    open.push(db)
    expect(db.userVersion).toBe(migrations.length)
    expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.sqlite.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.sqlite.pragma('synchronous', { simple: true })).toBe(2) // FULL
    const tables = db.sqlite.prepare('SELECT name FROM sqlite_master WHERE type = \'table\' ORDER BY name').pluck().all()
    expect(tables).toEqual(expect.arrayContaining(['incoming', 'outgoing', 'retained', 'subscriptions', 'users', 'wills']))
  })

  it('runs only the pending migrations, each once', () => {
    const path = freshPath()
    const clock = new ManualClock()
    const first = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })
    first.sqlite.prepare('INSERT INTO items (name) VALUES (?)').run('old')
    first.close()
    const second = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS, 'ALTER TABLE items ADD COLUMN note TEXT'] })
    open.push(second)
    expect(second.userVersion).toBe(2)
    expect(second.read(() => second.sqlite.prepare('SELECT name, note FROM items').all())).toEqual([{ name: 'old', note: null }])
  })

  it('refuses a database whose user_version is newer than the code knows', () => {
    const path = freshPath()
    const clock = new ManualClock()
    const db = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })
    db.sqlite.pragma('user_version = 7')
    db.close()
    expect(() => HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })).toThrow(StoreError)
    expect(() => HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })).toThrow(/schema version 7, newer .* \(1\)/)
  })

  it('a failing migration is rolled back and reported as StoreError', () => {
    const path = freshPath()
    const clock = new ManualClock()
    const bad = [ITEMS, 'CREATE TABLE extra (x); THIS IS NOT SQL']
    const err = (() => { try { HubDb.open({ path, clock, log: silentLogger(), migrations: bad }) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(StoreError)
    expect(String(err)).toMatch(/migration 2 failed/)
    const db = HubDb.open({ path, clock, log: silentLogger(), migrations: [ITEMS] })
    open.push(db)
    expect(db.userVersion).toBe(1)
    expect(db.sqlite.prepare('SELECT count(*) FROM sqlite_master WHERE name = \'extra\'').pluck().get()).toBe(0)
  })

  it('rejects bad options', () => {
    const base = { path: freshPath(), clock: new ManualClock(), log: silentLogger() }
    expect(() => HubDb.open({ ...base, sync: 'off' as 'full' })).toThrow(StoreError)
    expect(() => HubDb.open({ ...base, groupCommitMs: -1 })).toThrow(StoreError)
  })
})

describe('HubDb.writeOne and deferredWrite', () => {
  it('writeOne: a failing statement is undone alone, the others of the batch commit', async () => {
    const { clock, db, insert, names } = setup({ groupCommitMs: 5 })
    const a = track(db.writeOne(() => insert.run('a')))
    const dup = track(db.writeOne(() => insert.run('a'))) // UNIQUE violation
    const b = track(db.writeOne(() => insert.run('b')))
    await tick()
    expect(dup.status).toBe('rejected')
    expect(a.status).toBe('pending') // not before the commit
    clock.advance(5)
    await tick()
    expect([a.status, b.status]).toEqual(['resolved', 'resolved'])
    expect(names()).toEqual(['a', 'b'])
  })

  it('deferredWrite: runs just before the commit, inside the batch, and resolves with it', async () => {
    const { clock, db, insert, names } = setup({ groupCommitMs: 5 })
    let ran = 0
    const deferred = track(db.deferredWrite(() => { ran++; insert.run('late') }))
    const early = track(db.write(() => insert.run('early')))
    await tick()
    expect(ran).toBe(0)
    clock.advance(5)
    await tick()
    expect(ran).toBe(1)
    expect([deferred.status, early.status]).toEqual(['resolved', 'resolved'])
    expect(names()).toEqual(['early', 'late'])
  })
})

describe('HubDb on a full disk', () => {
  /** A logger whose JSON lines land in `lines`. */
  function capturingLogger() {
    const lines: Array<{ level: number, msg: string, reason?: string, failedBatches?: number }> = []
    const log = createLogger('debug', {}, { write: (line: string) => { lines.push(JSON.parse(line) as (typeof lines)[number]) } })
    return { log, lines }
  }
  const reasonCount = async (metrics: HubMetrics, reason: string) =>
    (await metrics.storeErrors.get()).values.find((v) => v.labels.reason === reason)?.value
  const writable = async (metrics: HubMetrics) => (await metrics.storeWritable.get()).values[0]?.value

  it('counts a writeOne that hits SQLITE_FULL as disk-full, like a write', async () => {
    const { clock, metrics, db, insert, names } = setup()
    insert.run('seed')
    db.sqlite.pragma(`max_page_count = ${Number(db.sqlite.pragma('page_count', { simple: true }))}`)
    const full = track(db.writeOne(() => insert.run(`x:${'x'.repeat(3000)}`)))
    clock.advance(2)
    await tick()
    expect(full.status).toBe('rejected')
    expect(storeFailureReason(full.error)).toBe('disk-full')
    expect(db.failing).toBe('disk-full')
    expect(await reasonCount(metrics, 'disk-full')).toBeGreaterThanOrEqual(1)
    expect(await writable(metrics)).toBe(0)
    expect(names()).toEqual(['seed'])
  })

  // PRAGMA max_page_count makes SQLite answer SQLITE_FULL exactly as a full filesystem does
  // ("database or disk is full"), without one.
  it('rejects every write of a batch that hits SQLITE_FULL, counts disk-full, logs once, and recovers when space returns', async () => {
    const { log, lines } = capturingLogger()
    const { clock, metrics, db, insert, names } = setup({ log })
    insert.run('seed')
    const pages = Number(db.sqlite.pragma('page_count', { simple: true }))
    db.sqlite.pragma(`max_page_count = ${pages}`)
    expect(await writable(metrics)).toBe(1)

    const big = (i: number): string => `${i}:${'x'.repeat(3000)}`
    // Three batches, each with one write too big for the file's last free space.
    const failed = []
    for (let batch = 0; batch < 3; batch++) {
      const writes = [0, 1].map((i) => track(db.write(() => insert.run(big(batch * 2 + i)))))
      clock.advance(2)
      await tick()
      failed.push(...writes)
    }
    expect(failed.map((w) => w.status)).toEqual(Array(6).fill('rejected'))
    expect(storeFailureReason(failed[0]?.error)).toBe('disk-full')
    expect(isStoreFailure(failed[0]?.error)).toBe(true)
    expect(names()).toEqual(['seed']) // nothing of a failed write is in the file
    expect(db.failing).toBe('disk-full')
    expect(await reasonCount(metrics, 'disk-full')).toBeGreaterThanOrEqual(3)
    expect(await writable(metrics)).toBe(0)
    const errors = lines.filter((l) => l.level >= 50)
    expect(errors.map((l) => l.reason)).toEqual(['disk-full'])

    // Space returns: the next write commits at once (the gauge says so), and the recovery is
    // logged once writes have gone 5 s without a failure.
    db.sqlite.pragma('max_page_count = 1000000')
    const ok = track(db.write(() => insert.run(big(99))))
    clock.advance(2)
    await tick()
    expect(ok.status).toBe('resolved')
    expect(db.failing).toBeUndefined()
    expect(await writable(metrics)).toBe(1)
    expect(names()).toEqual(['seed', big(99)])
    const recovered = () => lines.filter((l) => l.msg === 'store: writes succeed again')
    expect(recovered()).toHaveLength(0)

    // A disk that lets a commit through now and then is still one run of failures: no new error
    // line, no recovery line.
    db.sqlite.pragma(`max_page_count = ${Number(db.sqlite.pragma('page_count', { simple: true }))}`)
    const again = track(db.write(() => insert.run(big(100))))
    clock.advance(2)
    await tick()
    expect(again.status).toBe('rejected')
    expect(await writable(metrics)).toBe(0)
    db.sqlite.pragma('max_page_count = 1000000')
    for (const i of [101, 102]) {
      if (i === 102) clock.advance(5_000)
      const w = track(db.write(() => insert.run(big(i))))
      clock.advance(2)
      await tick()
      expect(w.status).toBe('resolved')
      expect(recovered()).toHaveLength(i === 101 ? 0 : 1)
    }
    expect(recovered()).toHaveLength(1)
    expect(recovered()[0]?.failedBatches).toBeGreaterThanOrEqual(4)
    expect(lines.filter((l) => l.level >= 50)).toHaveLength(1)
  })

  it('classifies SQLite failures by code along the cause chain', () => {
    const sqlite = (code: string) => new StoreError('commit failed', { cause: Object.assign(new Error(code), { code }) })
    expect([sqlite('SQLITE_FULL'), sqlite('SQLITE_IOERR_WRITE'), sqlite('SQLITE_BUSY'), sqlite('SQLITE_LOCKED'), sqlite('SQLITE_CONSTRAINT_FOREIGNKEY'), new Error('x')].map(storeFailureReason))
      .toEqual(['disk-full', 'io', 'busy', 'busy', 'other', 'other'])
    expect(isStoreFailure(new Error('wrapped', { cause: sqlite('SQLITE_FULL') }))).toBe(true)
    expect(isStoreFailure(new Error('not the store'))).toBe(false)
  })
})
