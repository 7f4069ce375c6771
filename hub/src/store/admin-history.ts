import type { HubStatsPoint, TimelineEvent, TimelineEventType } from '../contract/admin-api.js'
import type { HubDb } from './db.js'

/** Rows kept in `timeline`; older ones are deleted as new ones arrive. */
export const TIMELINE_MAX_ROWS = 10_000
/** Stats rollups older than this are deleted, ms (24 h). */
export const ROLLUP_KEEP_MS = 24 * 60 * 60 * 1000

type Rollup = Omit<HubStatsPoint, 'hub'>
interface RollupRow { ts_ms: number, interval_ms: number, connections: number, msgs_in_per_s: number, msgs_out_per_s: number, inter_hub_bytes_in_per_s: number, inter_hub_bytes_out_per_s: number, drops: number, store_lag_ms: number }
interface TimelineRow { ts_ms: number, type: string, member: string, incarnation: number | null, moved_share: number | null }

/**
 * The operator history this hub keeps in SQLite (migration V5): its own 1-minute stats rollups
 * and the membership events it saw. Both bounded: rollups by age, the timeline by row count.
 */
export class AdminHistory {
  readonly #putRollup
  readonly #rollupsSince
  readonly #pruneRollups
  readonly #putEvent
  readonly #eventsSince
  readonly #pruneEvents

  constructor(private readonly db: HubDb) {
    const sql = db.sqlite
    this.#putRollup = sql.prepare<[number, number, number, number, number, number, number, number, number]>(`INSERT INTO stats_rollup
      (ts_ms, interval_ms, connections, msgs_in_per_s, msgs_out_per_s, inter_hub_bytes_in_per_s, inter_hub_bytes_out_per_s, drops, store_lag_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ts_ms) DO UPDATE SET interval_ms = excluded.interval_ms, connections = excluded.connections,
      msgs_in_per_s = excluded.msgs_in_per_s, msgs_out_per_s = excluded.msgs_out_per_s, inter_hub_bytes_in_per_s = excluded.inter_hub_bytes_in_per_s,
      inter_hub_bytes_out_per_s = excluded.inter_hub_bytes_out_per_s, drops = excluded.drops, store_lag_ms = excluded.store_lag_ms`)
    this.#rollupsSince = sql.prepare<[number], RollupRow>('SELECT * FROM stats_rollup WHERE ts_ms >= ? ORDER BY ts_ms')
    this.#pruneRollups = sql.prepare<[number]>('DELETE FROM stats_rollup WHERE ts_ms < ?')
    this.#putEvent = sql.prepare<[number, string, string, number | null, number | null]>('INSERT INTO timeline (ts_ms, type, member, incarnation, moved_share) VALUES (?, ?, ?, ?, ?)')
    this.#eventsSince = sql.prepare<[number, number], TimelineRow>('SELECT ts_ms, type, member, incarnation, moved_share FROM timeline WHERE ts_ms >= ? ORDER BY id DESC LIMIT ?')
    this.#pruneEvents = sql.prepare<[number]>('DELETE FROM timeline WHERE id <= (SELECT MAX(id) FROM timeline) - ?')
  }

  /** Writes (or overwrites) the rollup of the minute starting at `point.tsMs`; prunes old ones. */
  putRollup(point: Rollup, nowMs: number): Promise<void> {
    return this.db.write(() => {
      this.#putRollup.run(point.tsMs, point.intervalMs, point.connections, point.msgsInPerS, point.msgsOutPerS, point.interHubBytesInPerS, point.interHubBytesOutPerS, point.drops, point.storeLagMs)
      this.#pruneRollups.run(nowMs - ROLLUP_KEEP_MS)
    })
  }

  rollupsSince(sinceMs: number): Rollup[] {
    return this.db.read(() => this.#rollupsSince.all(sinceMs)).map((r) => ({
      tsMs: r.ts_ms, intervalMs: r.interval_ms, connections: r.connections, msgsInPerS: r.msgs_in_per_s, msgsOutPerS: r.msgs_out_per_s,
      interHubBytesInPerS: r.inter_hub_bytes_in_per_s, interHubBytesOutPerS: r.inter_hub_bytes_out_per_s, drops: r.drops, storeLagMs: r.store_lag_ms,
    }))
  }

  /** Appends events this hub saw, dropping the oldest beyond TIMELINE_MAX_ROWS. */
  putEvents(events: readonly TimelineEvent[]): Promise<void> {
    return this.db.write(() => {
      for (const e of events) this.#putEvent.run(e.tsMs, e.type, e.member, e.incarnation ?? null, e.movedShare ?? null)
      this.#pruneEvents.run(TIMELINE_MAX_ROWS)
    })
  }

  /** The newest `limit` events at or after `sinceMs`, oldest first. */
  eventsSince(seenBy: string, sinceMs: number, limit: number): TimelineEvent[] {
    return this.db.read(() => this.#eventsSince.all(sinceMs, limit)).reverse().map((r) => ({
      tsMs: r.ts_ms, seenBy, type: r.type as TimelineEventType, member: r.member,
      ...(r.incarnation === null ? {} : { incarnation: r.incarnation }),
      ...(r.moved_share === null ? {} : { movedShare: r.moved_share }),
    }))
  }
}
