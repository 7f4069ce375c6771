import type { HubDb } from './db.js'

/** A position in a key's log: messages are ordered by epoch, then seq. */
export interface Offset {
  epoch: number
  seq: number
}

/** One sequenced message of a key. */
export interface LogEntry extends Offset {
  key: string
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  tsMs: number
}

export type NewEntry = Omit<LogEntry, 'epoch' | 'seq' | 'tsMs'>

interface Row { key: string, epoch: number, seq: number, topic: string, payload: Buffer | string, qos: number, retain: number, ts_ms: number }

/**
 * The ordered topic logs of the keys this hub owns (DESIGN §5), in SQLite: `(epoch, seq)` per key,
 * written through HubDb's group commit. Sequencing itself (who may append, and when the epoch
 * moves) is the sequencer's business; this class only stores and reads.
 */
/**
 * A key's entries after an offset. The row-value comparison lets SQLite start at the offset in
 * the primary key; written as `epoch > ? OR (epoch = ? AND seq > ?)` it walked the key's entries
 * from its first (11.5 ms a read at the end of a 20,000-entry key of 1 KiB payloads, against
 * 0.03): an owner answering 550 retries at once read for 12 s, which a stall watch took for a
 * death (test/e2e/ring-link-break.test.ts).
 */
export const SINCE_SQL = 'SELECT * FROM topic_log WHERE key = ? AND (epoch, seq) > (?, ?) ORDER BY epoch, seq LIMIT ?'

export class TopicLog {
  readonly #insert
  readonly #saveState
  readonly #state
  readonly #since
  readonly #count
  readonly #lastSeq
  readonly #maxEpoch
  readonly #insertReplica
  readonly #deleteBefore
  readonly #prune
  readonly #newest
  readonly #oldest
  #pending: LogEntry[] = []
  #committed: Promise<void> | undefined
  /**
   * `knownEpoch` per key once asked: raised by every write that brings an epoch (before it
   * commits: a failed write leaves it higher, which only makes the fence stricter), never lowered
   * (retention may delete an epoch's entries; the epoch still existed). At most
   * `maxKnownEpochs` keys, the longest cached forgotten first (read again when asked).
   */
  readonly #epochs = new Map<string, number>()

  /** `maxKnownEpochs`: keys whose epoch `knownEpoch` keeps in memory (default 100,000; a few MB). */
  constructor(private readonly db: HubDb, private readonly maxKnownEpochs = 100_000) {
    const sql = db.sqlite
    this.#insert = sql.prepare<[string, number, number, string, Buffer, number, number, number]>(
      'INSERT INTO topic_log (key, epoch, seq, topic, payload, qos, retain, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    this.#saveState = sql.prepare<[string, number, number]>(
      'INSERT INTO key_state (key, epoch, seq) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq')
    this.#state = sql.prepare<[string], { epoch: number, seq: number }>('SELECT epoch, seq FROM key_state WHERE key = ?')
    this.#since = sql.prepare<[string, number, number, number], Row>(SINCE_SQL)
    this.#count = sql.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM topic_log WHERE key = ?')
    this.#newest = sql.prepare<[string, number], Row>('SELECT * FROM topic_log WHERE key = ? ORDER BY epoch DESC, seq DESC LIMIT ?')
    this.#prune = {
      olderThan: sql.prepare<[number]>('DELETE FROM topic_log WHERE ts_ms < ?'),
      keysOverCount: sql.prepare<[number], { key: string }>('SELECT key FROM topic_log GROUP BY key HAVING COUNT(*) > ?'),
      nthNewest: sql.prepare<[string, number], { epoch: number, seq: number }>('SELECT epoch, seq FROM topic_log WHERE key = ? ORDER BY epoch DESC, seq DESC LIMIT 1 OFFSET ?'),
      keysOverBytes: sql.prepare<[number], { key: string }>('SELECT key FROM topic_log GROUP BY key HAVING SUM(length(payload)) > ?'),
      newestSizes: sql.prepare<[string], { epoch: number, seq: number, n: number }>('SELECT epoch, seq, length(payload) AS n FROM topic_log WHERE key = ? ORDER BY epoch DESC, seq DESC'),
      totals: sql.prepare<[], { entries: number, bytes: number | null }>('SELECT COUNT(*) AS entries, SUM(length(payload)) AS bytes FROM topic_log'),
    }
    this.#deleteBefore = sql.prepare<[string, number, number]>('DELETE FROM topic_log WHERE key = ? AND (epoch, seq) < (?, ?)')
    this.#oldest = sql.prepare<[string], Offset>('SELECT epoch, seq FROM topic_log WHERE key = ? ORDER BY epoch, seq LIMIT 1')
    this.#maxEpoch = sql.prepare<[string], { epoch: number | null }>('SELECT MAX(epoch) AS epoch FROM topic_log WHERE key = ?')
    this.#insertReplica = sql.prepare<[string, number, number, string, Buffer, number, number, number]>(
      'INSERT OR IGNORE INTO topic_log (key, epoch, seq, topic, payload, qos, retain, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    this.#lastSeq = sql.prepare<[string, number], { seq: number }>('SELECT MAX(seq) AS seq FROM topic_log WHERE key = ? AND epoch = ?')
  }

  /** The key's last offset here: the highest epoch this hub started or holds entries of (as
   *  owner or replica), and the last seq logged in it; undefined for a key never seen here. */
  state(key: string): Offset | undefined {
    this.#visible()
    return this.db.read(() => {
      const started = this.#state.get(key)?.epoch
      const logged = this.#maxEpoch.get(key)?.epoch ?? undefined
      if (started === undefined && (logged === undefined || logged === null)) return undefined
      const epoch = Math.max(started ?? 0, logged ?? 0)
      return { epoch, seq: this.#lastSeq.get(key, epoch)?.seq ?? 0 }
    })
  }

  /**
   * The highest epoch this hub started, was told of or holds entries of for the key (0 for a key
   * never seen here): `state(key).epoch` without its two queries once asked, for the replica's fencing check
   * on every copy (those queries were a fifth of a replica's CPU under load).
   */
  knownEpoch(key: string): number {
    let epoch = this.#epochs.get(key)
    if (epoch === undefined) {
      epoch = this.state(key)?.epoch ?? 0
      if (this.#epochs.size >= this.maxKnownEpochs) this.#epochs.delete(this.#epochs.keys().next().value as string)
      this.#epochs.set(key, epoch)
    }
    return epoch
  }

  #raise(key: string, epoch: number): void {
    const known = this.#epochs.get(key)
    if (known !== undefined && epoch > known) this.#epochs.set(key, epoch)
  }

  /** Records that `epoch` exists for the key (a handoff told us), without lowering what we have. */
  noteEpoch(key: string, epoch: number): Promise<void> {
    this.#raise(key, epoch)
    return this.db.write(() => {
      const current = this.#state.get(key)?.epoch ?? 0
      if (epoch > current) this.#saveState.run(key, epoch, 0)
    })
  }

  /**
   * Stores entries copied from their keys' owner, in order, in one write (a replica gets its
   * copies a batch at a time; a write and its promise per copy were a good part of its cost); a
   * copy already held is kept. Resolves once committed. If one insert fails, the promise rejects
   * and the copies before it may stay: harmless, since the owner sends the batch again and a held
   * copy is kept (`INSERT OR IGNORE`).
   */
  appendReplica(entries: readonly LogEntry[]): Promise<void> {
    for (const e of entries) this.#raise(e.key, e.epoch)
    const insert = this.#insertReplica
    return this.db.writeOne(() => {
      for (const e of entries) insert.run(e.key, e.epoch, e.seq, e.topic, e.payload, e.qos, e.retain ? 1 : 0, e.tsMs)
    })
  }

  /** Records a new epoch for a key (seq 0: nothing sequenced in it yet). Resolves once committed. */
  startEpoch(key: string, epoch: number): Promise<void> {
    this.#raise(key, epoch)
    return this.db.write(() => { this.#saveState.run(key, epoch, 0) })
  }

  /**
   * Appends one entry, the hot path of every publish: entries gather in memory and go into the
   * table just before the group commit; every append of one batch shares one promise, resolved by
   * its commit. `key_state` keeps only the epoch (written by `startEpoch`); an epoch's last seq is
   * the largest in the log.
   */
  append(entry: LogEntry): Promise<void> {
    this.#raise(entry.key, entry.epoch)
    this.#pending.push(entry)
    this.#committed ??= this.db.deferredWrite(() => this.#insertPending())
    return this.#committed
  }

  /**
   * Writes the gathered entries (in append order) into the open transaction, one prepared
   * single-row INSERT each. Measured against 32-row multi-VALUES INSERTs (the earlier way): the
   * single-row statement costs about a third less CPU per entry (5-6 against 8-9 µs, commit
   * included, batches of 64 in a WAL file), binding 8 values each time instead of 256.
   */
  #insertPending(): void {
    const rows = this.#pending
    this.#pending = []
    this.#committed = undefined
    const insert = this.#insert
    for (const e of rows) insert.run(e.key, e.epoch, e.seq, e.topic, e.payload, e.qos, e.retain ? 1 : 0, e.tsMs)
  }

  /** Entries appended but not yet in the table go in now (inside the open batch), so reads see them. */
  #visible(): void {
    if (this.#pending.length > 0) this.db.read(() => this.#insertPending())
  }

  /** Entries of `key` after `from`, oldest first, at most `limit`. */
  since(key: string, from: Offset, limit = 1000): LogEntry[] {
    this.#visible()
    return this.db.read(() => this.#since.all(key, from.epoch, from.seq, limit)).map(toEntry)
  }

  /**
   * Retention (DESIGN invariant 6): drops entries older than `maxAgeMs`, then per key all but the
   * newest `maxEntries`, then per key the oldest beyond `maxBytes` of payload. 0 = no limit. One
   * transaction; resolves once committed with what it removed and what the log holds now.
   */
  prune(limits: { maxAgeMs: number, maxEntries: number, maxBytes: number }, nowMs: number): Promise<{ removed: number, entries: number, bytes: number }> {
    this.#visible()
    const st = this.#prune
    return this.db.write(() => {
      let removed = 0
      if (limits.maxAgeMs > 0) removed += st.olderThan.run(nowMs - limits.maxAgeMs).changes
      if (limits.maxEntries > 0) {
        for (const { key } of st.keysOverCount.all(limits.maxEntries)) {
          const oldestKept = st.nthNewest.get(key, limits.maxEntries - 1)
          if (oldestKept) removed += this.#deleteBefore.run(key, oldestKept.epoch, oldestKept.seq).changes
        }
      }
      if (limits.maxBytes > 0) {
        for (const { key } of st.keysOverBytes.all(limits.maxBytes)) {
          let total = 0
          let oldestKept: { epoch: number, seq: number } | undefined
          for (const row of st.newestSizes.iterate(key)) {
            if (total + row.n > limits.maxBytes) break
            total += row.n
            oldestKept = row
          }
          // Not even the newest fits: keep it anyway (a log is never emptied by size alone).
          oldestKept ??= st.newestSizes.get(key)
          if (oldestKept) removed += this.#deleteBefore.run(key, oldestKept.epoch, oldestKept.seq).changes
        }
      }
      const totals = st.totals.get()
      return { removed, entries: totals?.entries ?? 0, bytes: totals?.bytes ?? 0 }
    })
  }

  /** The newest entries of `key`, oldest first: at most `maxEntries`, and no more payload than
   *  `maxBytes` (the newest one always). */
  tail(key: string, maxEntries: number, maxBytes: number): LogEntry[] {
    this.#visible()
    const out: LogEntry[] = []
    let bytes = 0
    for (const row of this.db.read(() => this.#newest.iterate(key, maxEntries)) as IterableIterator<Row>) {
      const entry = toEntry(row)
      if (out.length > 0 && bytes + entry.payload.length > maxBytes) break
      bytes += entry.payload.length
      out.push(entry)
    }
    return out.reverse()
  }

  /** The oldest entry of `key` still held, or undefined. */
  oldest(key: string): Offset | undefined {
    this.#visible()
    return this.db.read(() => this.#oldest.get(key))
  }

  size(key: string): number {
    this.#visible()
    return this.db.read(() => this.#count.get(key)?.n ?? 0)
  }
}

function toEntry(r: Row): LogEntry {
  return {
    key: r.key, epoch: r.epoch, seq: r.seq, topic: r.topic,
    payload: Buffer.isBuffer(r.payload) ? r.payload : Buffer.from(r.payload),
    qos: r.qos as 0 | 1 | 2, retain: r.retain === 1, tsMs: r.ts_ms,
  }
}
