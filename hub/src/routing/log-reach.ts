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
 * Whether `b` is surely the entry right after `a` in any log: the next seq of the same epoch, or
 * the very first entry (`1:1`) after the beginning (`0:0`). A later epoch's first entry after the
 * end of another epoch is the next only if a log that holds both says so (`withOlder`): whether
 * `a`'s epoch went on cannot be told from the offsets (each epoch numbers from 1).
 */
export function follows(a: Offset, b: Offset): boolean {
  return (b.epoch === a.epoch && b.seq === a.seq + 1) || (a.epoch === 0 && a.seq === 0 && b.epoch === 1 && b.seq === 1)
}

/**
 * Where to read the other hubs' logs from so that their answers begin with `from` itself when
 * they hold it (a log read returns the entries after an offset): the offset just before it in its
 * epoch. The beginning (`0:0`) has none.
 */
export function readFrom(from: Offset): Offset {
  return from.seq > 0 ? { epoch: from.epoch, seq: from.seq - 1 } : from
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

const name = (o: Offset): string => `${o.epoch}:${o.seq}`

/**
 * The answer to a read after `from` of at most `limit` entries, given the owner's read (`owner`)
 * and the other hubs' reads of the same key from `from` (`readFrom`) up to and including the
 * owner's oldest entry (`others`; a hub that did not answer is simply not there). The others' entries before the
 * owner's oldest come first, once each, in numbering order, then the owner's entries, only when
 * they run on without a gap from `from` to the owner's oldest entry (or fill the page) and leave
 * none of the others' entries out: each entry `follows` the one before it, or comes right after
 * it in one hub's log.
 * Otherwise the answer is the owner's own: its `oldest` shows the reader the gap, and a page
 * shorter than `limit` still means the end of the log. `oldest` of a merged answer: the first
 * offset the hubs that answered hold. An owner holding nothing of the key: the others' entries
 * under the same rule (else nothing, as the owner's read).
 */
export function withOlder(from: Offset, limit: number, owner: LogRead, others: readonly LogRead[]): LogRead {
  const ownerOldest = owner.oldest
  const older = new Map<string, LogEntry>()
  /** Steps `a→b` some hub's log vouches for: b right after a there. */
  const vouched = new Set<string>()
  for (const part of others) {
    // A hub's answer may begin with `from` itself (`readFrom`): then it vouches for what follows it.
    let prev: Offset | undefined
    for (const e of part.entries) {
      if (offsetBefore(e, from)) continue
      if (prev) vouched.add(`${name(prev)}>${name(e)}`)
      prev = e
      if (offsetBefore(from, e) && (ownerOldest === null || offsetBefore(e, ownerOldest))) older.set(name(e), e)
    }
  }
  if (older.size === 0) return owner
  const next = (a: Offset, b: Offset): boolean => follows(a, b) || vouched.has(`${name(a)}>${name(b)}`)
  const sorted = [...older.values()].sort((a, b) => (offsetBefore(a, b) ? -1 : 1))
  const run: LogEntry[] = []
  let last: Offset = from
  for (const e of sorted) {
    if (run.length === limit || !next(last, e)) break
    run.push(e)
    last = e
  }
  let oldest: Offset | null = ownerOldest
  for (const part of others) if (part.oldest !== null && (oldest === null || offsetBefore(part.oldest, oldest))) oldest = part.oldest
  if (run.length === limit) return { entries: run, oldest }
  // A gap before the owner's oldest entry, or older entries the run left out: the owner's answer.
  if (run.length < sorted.length || run.length === 0) return owner
  if (ownerOldest === null) return { entries: run, oldest }
  if (!next(last, ownerOldest)) return owner
  return { entries: [...run, ...owner.entries].slice(0, limit), oldest }
}
