import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { OutboxError } from '../base/errors.js'

/** A message waiting for a hub's PUBACK. */
export interface OutboxMessage {
  /** Row id: the replay order, across devices. */
  id: number
  device: string
  /** Per-device sequence number, carried in the payload so hubs can drop replayed duplicates. */
  seq: number
  topic: string
  payload: Buffer
  retain: boolean
}

/** A message to store; `build` makes the payload once the message's `seq` is known. */
export interface NewMessage {
  device: string
  topic: string
  retain: boolean
  build: (seq: number) => Buffer
}

export interface OutboxOptions {
  /** SQLite file; its directory is created if missing. */
  path: string
  /** Most messages kept; past it the oldest are dropped and counted. Default 1,000,000. */
  maxMessages?: number
  /** Most payload + topic bytes kept; past it the oldest are dropped and counted. Default 256 MiB. */
  maxBytes?: number
}

export interface OutboxStats {
  queued: number
  bytes: number
  /** Messages dropped because the outbox was full, since the file was created. */
  dropped: number
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     device TEXT NOT NULL, seq INTEGER NOT NULL, topic TEXT NOT NULL,
     payload BLOB NOT NULL, retain INTEGER NOT NULL, bytes INTEGER NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS outbox_by_device ON outbox (device, id)',
  // last_seq survives the deletion of every row: a seq is never handed out twice.
  'CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, dropped INTEGER NOT NULL DEFAULT 0)',
]

/**
 * The store-and-forward outbox (docs/agent.md): every reading is committed here before anything
 * else happens to it and deleted only when a hub has acknowledged it, so it survives a lost hub
 * and an agent `kill -9` (WAL, synchronous=NORMAL: durable against process crashes). Bounded by
 * count and bytes; the oldest messages are dropped first and counted per device.
 */
export class Outbox {
  readonly maxMessages: number
  readonly maxBytes: number
  readonly #db: Database.Database
  readonly #stmt: {
    insert: Database.Statement, seqOf: Database.Statement, upsertSeq: Database.Statement,
    pending: Database.Statement, removeReturningBytes: Database.Statement, oldest: Database.Statement,
    removeUpTo: Database.Statement, addDropped: Database.Statement,
  }
  #count: number
  #bytes: number
  #dropped: number
  #acks: number[] = []
  readonly #seqs = new Map<string, number>()

  constructor(opts: OutboxOptions) {
    this.maxMessages = opts.maxMessages ?? 1_000_000
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024
    try {
      if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true })
      this.#db = new Database(opts.path)
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL')
      this.#db.pragma('busy_timeout = 5000')
      for (const sql of SCHEMA) this.#db.exec(sql)
    } catch (err) {
      throw new OutboxError(`cannot open outbox ${opts.path}: ${(err as Error).message}`, { cause: err })
    }
    const db = this.#db
    this.#stmt = {
      insert: db.prepare('INSERT INTO outbox (device, seq, topic, payload, retain, bytes) VALUES (?, ?, ?, ?, ?, ?)'),
      seqOf: db.prepare('SELECT last_seq FROM devices WHERE device = ?').pluck(),
      upsertSeq: db.prepare('INSERT INTO devices (device, last_seq) VALUES (?, ?) ON CONFLICT (device) DO UPDATE SET last_seq = excluded.last_seq'),
      pending: db.prepare('SELECT id, device, seq, topic, payload, retain FROM outbox WHERE device = ? AND id > ? ORDER BY id LIMIT ?'),
      // One statement per acknowledged row: delete it and learn its size.
      removeReturningBytes: db.prepare('DELETE FROM outbox WHERE id = ? RETURNING bytes').pluck(),
      oldest: db.prepare('SELECT id, device, bytes FROM outbox ORDER BY id LIMIT ?'),
      removeUpTo: db.prepare('DELETE FROM outbox WHERE id <= ?'),
      addDropped: db.prepare('INSERT INTO devices (device, last_seq, dropped) VALUES (?, 0, ?) ON CONFLICT (device) DO UPDATE SET dropped = dropped + excluded.dropped'),
    }
    const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM outbox').get() as { n: number, b: number }
    this.#count = totals.n
    this.#bytes = totals.b
    this.#dropped = (db.prepare('SELECT coalesce(sum(dropped), 0) FROM devices').pluck().get() as number)
  }

  /** Stores messages in one transaction, assigning each its device's next seq; returns them. */
  append(items: readonly NewMessage[]): OutboxMessage[] {
    if (items.length === 0) return []
    return this.#db.transaction(() => {
      const out: OutboxMessage[] = []
      const touched = new Set<string>()
      for (const item of items) {
        const seq = this.#nextSeq(item.device)
        touched.add(item.device)
        const payload = item.build(seq)
        const bytes = payload.length + Buffer.byteLength(item.topic)
        const { lastInsertRowid } = this.#stmt.insert.run(item.device, seq, item.topic, payload, item.retain ? 1 : 0, bytes)
        out.push({ id: Number(lastInsertRowid), device: item.device, seq, topic: item.topic, payload, retain: item.retain })
        this.#count++
        this.#bytes += bytes
      }
      for (const device of touched) this.#stmt.upsertSeq.run(device, this.#seqs.get(device))
      this.#enforceBounds()
      return out
    })()
  }

  /** A seq for a message that does not go through the outbox (a command response). */
  allocSeq(device: string): number {
    const seq = this.#nextSeq(device)
    this.#stmt.upsertSeq.run(device, seq)
    return seq
  }

  /** Up to `limit` of a device's messages after row `afterId`, oldest first. */
  pending(device: string, afterId: number, limit: number): OutboxMessage[] {
    const rows = this.#stmt.pending.all(device, afterId, limit) as Array<Omit<OutboxMessage, 'retain'> & { retain: number }>
    return rows.map((r) => ({ ...r, retain: r.retain === 1 }))
  }

  /** Marks a message acknowledged; the row goes at the next `flushAcks` (one transaction for many). */
  ack(id: number): void {
    this.#acks.push(id)
  }

  get pendingAcks(): number { return this.#acks.length }

  flushAcks(): void {
    if (this.#acks.length === 0) return
    const ids = this.#acks
    this.#acks = []
    this.#db.transaction(() => {
      for (const id of ids) {
        const bytes = this.#stmt.removeReturningBytes.get(id) as number | undefined
        if (bytes === undefined) continue // dropped for space while in flight
        this.#count--
        this.#bytes -= bytes
      }
    })()
  }

  stats(): OutboxStats {
    return { queued: this.#count, bytes: this.#bytes, dropped: this.#dropped }
  }

  close(): void {
    this.flushAcks()
    this.#db.close()
  }

  #nextSeq(device: string): number {
    let last = this.#seqs.get(device)
    if (last === undefined) last = (this.#stmt.seqOf.get(device) as number | undefined) ?? 0
    const seq = last + 1
    this.#seqs.set(device, seq)
    return seq
  }

  /** Drop-oldest until both bounds hold (inside the caller's transaction). */
  #enforceBounds(): void {
    if (this.#count <= this.maxMessages && this.#bytes <= this.maxBytes) return
    const excess = Math.max(0, this.#count - this.maxMessages)
    const rows = this.#stmt.oldest.all(Math.max(excess, 1) + 1024) as Array<{ id: number, device: string, bytes: number }>
    const perDevice = new Map<string, number>()
    let lastId = -1
    for (const row of rows) {
      if (this.#count <= this.maxMessages && this.#bytes <= this.maxBytes) break
      lastId = row.id
      this.#count--
      this.#bytes -= row.bytes
      perDevice.set(row.device, (perDevice.get(row.device) ?? 0) + 1)
    }
    if (lastId < 0) return
    this.#stmt.removeUpTo.run(lastId)
    for (const [device, n] of perDevice) {
      this.#stmt.addDropped.run(device, n)
      this.#dropped += n
    }
    // Still over the byte bound after a batch (one huge message and many tiny ones): go again.
    this.#enforceBounds()
  }
}
