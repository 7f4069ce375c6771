import type { LogEntry, Offset } from '../store/topic-log.js'

/**
 * Reads from an offset across owners (docs/routing.md "Resume from an offset"). A new owner gets
 * only the newest part of a key's log in a handoff (the tail: 1000 entries, 1 MiB), while the
 * topic logs keep up to 10,000 entries per key: the older part stays in the earlier owner's log
 * (and its replicas'). A read that starts before the owner's oldest entry reads that part from
 * the other hubs' logs, as far as it runs on without a gap.
 */

/** `a` before `b`, in numbering order. */
export function offsetBefore(a: Offset, b: Offset): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.seq < b.seq)
}

/**
 * Whether `b` may be the entry right after `a`: the next seq of the same epoch, or the first of a
 * later epoch (whether `a`'s epoch went on after `a` cannot be told: each epoch numbers from 1,
 * so a log read across epochs trusts that boundary, as one hub's log does). `0:0`, the
 * beginning, comes right before the first entry of any epoch.
 */
export function follows(a: Offset, b: Offset): boolean {
  return (b.epoch === a.epoch && b.seq === a.seq + 1) || (b.epoch > a.epoch && b.seq === 1)
}

/**
 * Whether a log whose first entry is `oldest` may lack entries after `from` that another hub
 * holds: it has none of the key, or it starts after `from` other than right after it. A log that
 * starts a later epoch at 1 may lack the end of `from`'s epoch: asked too (asking costs a request
 * per hub; a read from the beginning, `0:0`, of a log starting at `1:1` lacks nothing).
 */
export function mayLackAfter(from: Offset, oldest: Offset | null): boolean {
  if (oldest === null) return true
  if (!offsetBefore(from, oldest)) return false
  if (from.epoch === oldest.epoch && from.seq + 1 === oldest.seq) return false
  return !(from.epoch === 0 && from.seq === 0 && oldest.epoch === 1 && oldest.seq === 1)
}

/** A log read: entries after an offset, and the first offset the log holds (null: none). */
export interface LogRead { entries: LogEntry[], oldest: Offset | null }

/**
 * The answer to a read after `from` of at most `limit` entries, given the owner's read (`owner`)
 * and the other hubs' reads of the same key after `from` (`others`; a hub that did not answer is
 * simply not there). The entries the others hold between `from` and the owner's oldest entry come
 * first, once each, in numbering order, when they run on from `from` without a gap (each
 * `follows` the one before it) to the owner's oldest entry, or fill the page; then the owner's
 * entries. When that run stops short of the owner's oldest entry (retention, or the hub that held
 * the rest did not answer), the answer is the owner's own: its `oldest` shows the reader the gap,
 * and a page shorter than `limit` still means the end. `oldest`: the owner's, unless the others'
 * entries were taken; then the first offset any hub that answered holds. An owner that holds
 * nothing of the key: the others' entries, as one log.
 */
export function withOlder(from: Offset, limit: number, owner: LogRead, others: readonly LogRead[]): LogRead {
  const ownerOldest = owner.oldest
  const older = new Map<string, LogEntry>()
  for (const part of others) {
    for (const e of part.entries) {
      if (offsetBefore(from, e) && (ownerOldest === null || offsetBefore(e, ownerOldest))) older.set(`${e.epoch}:${e.seq}`, e)
    }
  }
  if (older.size === 0) return owner
  const sorted = [...older.values()].sort((a, b) => (offsetBefore(a, b) ? -1 : 1))
  let oldest: Offset | null = ownerOldest
  for (const part of others) if (part.oldest !== null && (oldest === null || offsetBefore(part.oldest, oldest))) oldest = part.oldest
  if (ownerOldest === null) return { entries: sorted.slice(0, limit), oldest }
  const run: LogEntry[] = []
  let last: Offset = from
  for (const e of sorted) {
    if (run.length === limit || !follows(last, e)) break
    run.push(e)
    last = e
  }
  if (run.length === limit) return { entries: run, oldest }
  if (run.length === 0 || !follows(last, ownerOldest)) return owner
  return { entries: [...run, ...owner.entries].slice(0, limit), oldest }
}
