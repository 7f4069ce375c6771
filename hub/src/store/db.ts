import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { Clock, TimerHandle } from '../base/clock.js'
import { nextTurn } from '../base/next-turn.js'
import { StoreError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { migrations as shippedMigrations } from './migrations.js'
import { storeFailureReason, type StoreFailureReason } from './store-failure.js'

export interface HubDbOptions {
  /** SQLite file; its directory is created if missing. `:memory:` gives a private in-memory db. */
  path: string
  clock: Clock
  log: Logger
  metrics?: HubMetrics
  /** How long a write batch stays open before its COMMIT, in ms. Default 2; 0 = next timer turn. */
  groupCommitMs?: number
  /** Writes after which a batch commits at once instead of waiting for the timer. Default 1000. */
  maxBatchWrites?: number
  /**
   * `PRAGMA synchronous`. Default 'normal': with WAL a commit survives a process crash but the
   * last commits may be lost on power loss. 'full' fsyncs the WAL on every commit.
   */
  sync?: 'normal' | 'full'
  /** How long a statement waits for another connection's lock, in ms. Default 5000. */
  busyTimeoutMs?: number
  /** The schema migrations to run; tests only. Default: the shipped ones (migrations.ts). */
  migrations?: readonly string[]
}

interface PendingWrite {
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * A run of failed writes: since `sinceMs` (monotonic), for `reason`, `batches` of them, the
 * last at `lastMs`. It ends with a commit at least RECOVERED_AFTER_MS after the last failure.
 */
interface Failure {
  reason: StoreFailureReason
  sinceMs: number
  lastMs: number
  batches: number
}

/**
 * How long writes must go without a failure before a run of failures counts as over (logged as
 * recovered). A full disk under load often lets a commit through now and then (SQLite reuses
 * WAL space after a checkpoint), and logging each of those as a recovery, and the next failure as
 * a new one, would log a line pair per second while the disk stays full.
 */
const RECOVERED_AFTER_MS = 5_000

interface Batch {
  writes: PendingWrite[]
  timer: TimerHandle | undefined
  /** Run inside the transaction just before COMMIT (see `beforeCommit`). */
  beforeCommit: Array<() => void>
}

/**
 * One SQLite connection with group commit: writes of a short interval share one transaction, so
 * the fsync cost is paid once per batch, while every write's promise still resolves only after
 * its data is committed (DESIGN.md §3.3: ack only what is durable).
 */
export class HubDb {
  /** The connection, for preparing statements once (never BEGIN/COMMIT on it directly). */
  readonly sqlite: Database.Database
  readonly path: string
  /** The clock given to open(); stores built on this db take their time from it too. */
  readonly clock: Clock
  readonly #clock: Clock
  readonly #log: Logger
  readonly #metrics: HubMetrics | undefined
  readonly #groupCommitMs: number
  readonly #maxBatchWrites: number
  readonly #stmt: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>
  #batch: Batch | undefined
  #inWrite = false
  #closed = false
  #failure: Failure | undefined
  /** Why the last write failed, until one commits. */
  #lastFailed: StoreFailureReason | undefined

  private constructor(sqlite: Database.Database, opts: HubDbOptions) {
    this.sqlite = sqlite
    this.path = opts.path
    this.clock = opts.clock
    this.#clock = opts.clock
    this.#log = opts.log
    this.#metrics = opts.metrics
    this.#groupCommitMs = opts.groupCommitMs ?? 2
    this.#maxBatchWrites = opts.maxBatchWrites ?? 1000
    this.#stmt = {
      // IMMEDIATE takes the write lock up front, so a batch never fails half-way on a lock upgrade.
      begin: sqlite.prepare('BEGIN IMMEDIATE'),
      commit: sqlite.prepare('COMMIT'),
      rollback: sqlite.prepare('ROLLBACK'),
      savepoint: sqlite.prepare('SAVEPOINT hub_write'),
      release: sqlite.prepare('RELEASE hub_write'),
      rollbackTo: sqlite.prepare('ROLLBACK TO hub_write'),
    }
  }

  /** Opens (creating if needed) and migrates the database. Throws StoreError. */
  static open(opts: HubDbOptions): HubDb {
    const sync = opts.sync ?? 'normal'
    if (sync !== 'normal' && sync !== 'full') throw new StoreError(`sync must be 'normal' or 'full', got ${String(sync)}`)
    const groupCommitMs = opts.groupCommitMs ?? 2
    if (!Number.isFinite(groupCommitMs) || groupCommitMs < 0) throw new StoreError(`groupCommitMs must be >= 0, got ${groupCommitMs}`)
    const busyTimeoutMs = Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))
    let sqlite: Database.Database
    try {
      if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true })
      sqlite = new Database(opts.path, { timeout: busyTimeoutMs })
    } catch (err) {
      throw new StoreError(`cannot open database ${opts.path}`, { cause: err })
    }
    try {
      const mode = sqlite.pragma('journal_mode = WAL', { simple: true })
      if (mode !== 'wal') opts.log.warn({ path: opts.path, mode }, 'store: WAL journal not available')
      sqlite.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`)
      sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`)
      sqlite.pragma('foreign_keys = ON')
      migrate(sqlite, opts.migrations ?? shippedMigrations, opts.path, opts.log)
      return new HubDb(sqlite, opts)
    } catch (err) {
      sqlite.close()
      throw err instanceof StoreError ? err : new StoreError(`cannot set up database ${opts.path}`, { cause: err })
    }
  }

  get closed(): boolean { return this.#closed }

  /**
   * Why the last write failed, while writes fail (a full disk); undefined once one commits again.
   * Nothing a failed write carried is acknowledged: its promise rejected.
   */
  get failing(): StoreFailureReason | undefined { return this.#lastFailed }

  /** `PRAGMA user_version`: the number of migrations applied. */
  get userVersion(): number { return Number(this.sqlite.pragma('user_version', { simple: true })) }

  /**
   * Runs `fn` now, inside the open batch (so later reads on this connection see its effects), and
   * resolves with its result once the batch has committed. If `fn` throws, only its own changes
   * are rolled back (a savepoint per write) and the promise rejects with that error. `fn` must be
   * synchronous and must not call write/flush/close itself.
   */
  write<T>(fn: () => T): Promise<T> {
    return this.#run(fn, true)
  }

  /**
   * `write` without the savepoint, for hot writes: SQLite undoes a failed statement by itself, and
   * an error that aborts the transaction aborts the whole batch as in `write`. So `fn` runs one
   * statement, or several each of which may stand without the others: when one fails, those
   * before it stay in the batch (the promise still rejects). Not only two statements fewer: rows
   * inserted inside a savepoint cost 3-4 µs more each (a replica's copies, measured with
   * bench/dist/micro-topic-log.js).
   */
  writeOne<T>(fn: () => T): Promise<T> {
    return this.#run(fn, false)
  }

  #run<T>(fn: () => T, savepoint: boolean): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError(`database ${this.path} is closed`))
    if (this.#inWrite) return Promise.reject(new StoreError('HubDb.write called inside a write'))
    let batch: Batch
    try {
      batch = this.#openBatch()
    } catch (err) {
      const error = new StoreError('cannot begin a transaction', { cause: err })
      this.#failed(error, 0)
      return Promise.reject(error)
    }
    let value: T
    this.#inWrite = true
    try {
      if (savepoint) this.#stmt.savepoint.run()
      value = fn()
      if (value instanceof Promise) {
        value.catch(() => { /* the caller's bug is reported below, not as an unhandled rejection */ })
        throw new StoreError('HubDb.write: fn must be synchronous (it returned a Promise)')
      }
      if (savepoint) this.#stmt.release.run()
    } catch (err) {
      if (savepoint) this.#undoWrite(batch, err)
      else if (!this.sqlite.inTransaction) this.#abortBatch(batch, new StoreError('transaction aborted by SQLite', { cause: err }))
      else {
        // The disk, not the caller's statement, failed this write (the batch goes on): counted as `write` counts it.
        const reason = storeFailureReason(err)
        if (reason === 'disk-full' || reason === 'io') this.#failed(err, 1)
        if (batch.writes.length === 0) this.#dropEmptyBatch(batch)
      }
      return Promise.reject(err)
    } finally {
      this.#inWrite = false
    }
    const done = new Promise<T>((resolve, reject) => {
      batch.writes.push({ resolve: () => resolve(value), reject })
    })
    if (batch.writes.length >= this.#maxBatchWrites) this.#commit()
    return done
  }

  /**
   * A write whose statements run later, just before the batch commits: `fn` is called once inside
   * the transaction before COMMIT, and the promise resolves with the commit. For writers that
   * gather many rows and insert them in few statements (the topic log). If `fn` throws, the whole
   * batch fails, as for an error that aborts the transaction.
   */
  deferredWrite(fn: () => void): Promise<void> {
    const opened = this.write(() => undefined)
    const batch = this.#batch
    if (batch) batch.beforeCommit.push(fn)
    return opened
  }

  /** Runs `fn` now. It sees the writes of the open batch (same connection). */
  read<T>(fn: () => T): T {
    if (this.#closed) throw new StoreError(`database ${this.path} is closed`)
    return fn()
  }

  /** Commits the open batch now, synchronously; its promises settle on the next microtask. */
  flush(): void {
    if (this.#inWrite) throw new StoreError('HubDb.flush called inside a write')
    this.#commit()
  }

  /** Commits what is pending and closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.flush()
    this.#closed = true
    this.sqlite.close()
  }

  #openBatch(): Batch {
    if (this.#batch) return this.#batch
    this.#stmt.begin.run()
    const batch: Batch = { writes: [], timer: undefined, beforeCommit: [] }
    if (this.#groupCommitMs > 0) {
      batch.timer = this.#clock.setTimeout(() => this.#commit(), this.#groupCommitMs)
    } else {
      // 0: commit as soon as this turn of the event loop ends (after the I/O it is handling), not
      // after a timer, which Node never fires sooner than 1 ms.
      nextTurn(() => { if (this.#batch === batch) this.#commit() })
    }
    this.#batch = batch
    return batch
  }

  /** Undoes a failed write: its savepoint alone, or the whole batch if SQLite already aborted it. */
  #undoWrite(batch: Batch, err: unknown): void {
    if (this.sqlite.inTransaction) {
      try {
        this.#stmt.rollbackTo.run()
        this.#stmt.release.run()
        // The disk, not the caller's statement, failed this write (the batch goes on).
        const reason = storeFailureReason(err)
        if (reason === 'disk-full' || reason === 'io') this.#failed(err, 1)
        if (batch.writes.length === 0) this.#dropEmptyBatch(batch)
        return
      } catch (undoErr) {
        this.#log.error({ err: undoErr }, 'store: rollback to savepoint failed')
      }
    }
    // Errors like SQLITE_FULL or SQLITE_IOERR roll back the whole transaction: the earlier writes
    // of this batch are gone too, so their promises must fail.
    this.#abortBatch(batch, new StoreError('transaction aborted by SQLite', { cause: err }))
  }

  #commit(): void {
    const batch = this.#batch
    if (!batch) return
    this.#batch = undefined
    this.#clock.clearTimeout(batch.timer)
    const startedMs = this.#clock.monotonicMs()
    try {
      for (const fn of batch.beforeCommit) fn()
      this.#stmt.commit.run()
    } catch (err) {
      this.#abortBatch(batch, new StoreError(`commit of ${batch.writes.length} writes failed`, { cause: err }))
      return
    }
    this.#metrics?.storeCommitSeconds.observe((this.#clock.monotonicMs() - startedMs) / 1000)
    this.#metrics?.storeCommitOps.observe(batch.writes.length)
    if (this.#lastFailed !== undefined) {
      this.#lastFailed = undefined
      this.#metrics?.storeWritable.set(1)
    }
    if (this.#failure && this.#clock.monotonicMs() - this.#failure.lastMs >= RECOVERED_AFTER_MS) this.#recovered(this.#failure)
    for (const w of batch.writes) w.resolve()
  }

  /** Ends a transaction that holds nothing, without counting it as a commit. */
  #dropEmptyBatch(batch: Batch): void {
    this.#batch = undefined
    this.#clock.clearTimeout(batch.timer)
    this.#stmt.rollback.run()
  }

  #abortBatch(batch: Batch, error: StoreError): void {
    if (this.#batch === batch) this.#batch = undefined
    this.#clock.clearTimeout(batch.timer)
    try {
      if (this.sqlite.inTransaction) this.#stmt.rollback.run()
    } catch (rollbackErr) {
      this.#log.error({ err: rollbackErr }, 'store: rollback failed')
    }
    this.#failed(error, batch.writes.length)
    for (const w of batch.writes) w.reject(error)
  }

  /**
   * Counts a failed write or batch by reason, and logs it: the first failure of a run of them
   * (a disk filling up fails every commit until space returns) at error level, the rest at debug,
   * so a full disk under load writes two log lines (this one and the recovery), not one per batch.
   */
  #failed(err: unknown, writes: number): void {
    const reason = storeFailureReason(err)
    const nowMs = this.#clock.monotonicMs()
    this.#lastFailed = reason
    this.#metrics?.storeErrors.inc({ reason })
    this.#metrics?.storeWritable.set(0)
    const failure = this.#failure
    if (failure?.reason === reason) {
      failure.batches++
      failure.lastMs = nowMs
      this.#log.debug({ err, writes, reason }, 'store: write failed')
      return
    }
    this.#failure = { reason, sinceMs: nowMs, lastMs: nowMs, batches: 1 }
    const what = reason === 'disk-full' ? 'disk full' : `write failed (${reason})`
    this.#log.error({ err, writes, reason, path: this.path },
      `store: ${what}; nothing a failed write carries is acknowledged, every new write tries again (logged once until writes succeed for ${RECOVERED_AFTER_MS / 1000} s)`)
  }

  #recovered(failure: Failure): void {
    this.#failure = undefined
    this.#log.warn({ reason: failure.reason, failedBatches: failure.batches, forMs: Math.round(this.#clock.monotonicMs() - failure.sinceMs), path: this.path },
      'store: writes succeed again')
  }
}

/** Brings `PRAGMA user_version` up to `list.length`, one transaction per migration. */
function migrate(sqlite: Database.Database, list: readonly string[], path: string, log: Logger): void {
  const current = Number(sqlite.pragma('user_version', { simple: true }))
  if (current > list.length) {
    throw new StoreError(`database ${path} has schema version ${current}, newer than this Ringhub build knows ` +
      `(${list.length}); refusing to open it (upgrade Ringhub or use another data directory)`)
  }
  list.forEach((sql, index) => {
    const version = index + 1
    if (version <= current) return
    try {
      sqlite.transaction(() => {
        sqlite.exec(sql)
        sqlite.pragma(`user_version = ${version}`)
      })()
    } catch (err) {
      throw new StoreError(`database ${path}: migration ${version} failed`, { cause: err })
    }
    log.info({ path, version }, 'store: migrated')
  })
}
