import type { LogEntry, Offset } from '../store/topic-log.js'

/**
 * Reads from an offset across owners (docs/routing.md "Resume from an offset"). A new owner gets
 * only the newest part of a key's log in a handoff (the tail: 1000 entries, 1 MiB), while the
 * topic logs keep up to 10,000 entries per key: the older part stays in the earlier owner's log
 * (and its replicas'). A read that starts before the owner's oldest entry reads that part from
 * the other hubs' logs.
 */

/** `a` before `b`, in numbering order. */
export function offsetBefore(a: Offset, b: Offset): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.seq < b.seq)
}

/**
 * Whether a log whose first entry is `oldest` may lack entries after `from` that another hub
 * holds: it has none of the key, or it starts after `from` other than right after it. Across
 * epochs that cannot be told (each epoch numbers from 1), so a log that starts a later epoch at 1
 * may lack some too.
 */
export function mayLackAfter(from: Offset, oldest: Offset | null): boolean {
  if (oldest === null) return true
  if (!offsetBefore(from, oldest)) return false
  if (from.epoch === oldest.epoch && from.seq + 1 === oldest.seq) return false
  // Epochs start at 1: a log starting at 1:1 holds everything after the beginning (0:0).
  return !(from.epoch === 0 && oldest.epoch === 1 && oldest.seq === 1)
}

/**
 * The answer to a read after `from` of at most `limit` entries: the owner's entries (`owner`,
 * its log starting at `owner.oldest`), preceded by what the other hubs' logs (`others`) hold
 * between `from` and that oldest entry, once each, in numbering order. `oldest` is the first
 * offset any of them holds.
 */
export function withOlder(from: Offset, limit: number, owner: { entries: LogEntry[], oldest: Offset | null }, others: ReadonlyArray<{ entries: LogEntry[], oldest: Offset | null }>): { entries: LogEntry[], oldest: Offset | null } {
  const ownerOldest = owner.oldest
  const older = new Map<string, LogEntry>()
  let oldest = ownerOldest
  for (const part of others) {
    if (part.oldest !== null && (oldest === null || offsetBefore(part.oldest, oldest))) oldest = part.oldest
    for (const e of part.entries) {
      if (!offsetBefore(from, e) || (ownerOldest !== null && !offsetBefore(e, ownerOldest))) continue
      older.set(`${e.epoch}:${e.seq}`, e)
    }
  }
  if (older.size === 0) return { entries: owner.entries, oldest }
  const sorted = [...older.values()].sort((a, b) => (offsetBefore(a, b) ? -1 : 1))
  return { entries: [...sorted, ...owner.entries].slice(0, limit), oldest }
}
