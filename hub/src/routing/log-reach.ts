import { offsetAfter } from '../contract/channels.js'
import type { LogEntry, Offset } from '../store/topic-log.js'

/**
 * Reads from an offset across owners (docs/routing.md "Resume from an offset"). A new owner gets
 * only the newest part of a key's log in a handoff (the tail: 1000 entries, 1 MiB), while the
 * topic logs keep up to 10,000 entries per key: the older part stays in the earlier owner's log
 * (and its replicas'). A read that starts before the owner's oldest entry reads that part from
 * the other hubs' logs, as far as it runs on without a gap.
 */

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
 * True when a log whose first entry is `oldest` still holds everything after `since`: its oldest
 * entry is the very next one, or not newer than `since` (nothing after `since` was pruned). An
 * empty log loses nothing it could tell of. A new epoch's first entry cannot be told from a pruned
 * gap unless `since` is the very start, so that case counts as not reaching back (a snapshot, never
 * a gap). Readers check it on every page (`readKeyLog`).
 */
export function reachesBack(oldest: Offset | null, since: Offset): boolean {
  if (oldest === null) return true
  if (oldest.epoch < since.epoch || (oldest.epoch === since.epoch && oldest.seq <= since.seq + 1)) return true
  return since.epoch === 0 && since.seq === 0 && oldest.epoch === 1 && oldest.seq === 1
}

/**
 * Whether a log whose first entry is `oldest` may lack entries after `from` that another hub
 * holds: it has none of the key, or it does not reach back to `from` (`reachesBack`). A log that
 * starts a later epoch at 1 may lack the end of `from`'s epoch: asked too (asking costs a request
 * per hub).
 */
export function mayLackAfter(from: Offset, oldest: Offset | null): boolean {
  return oldest === null || !reachesBack(oldest, from)
}

/**
 * A key's log after `since`, page by page (`read` answers one page of at most `pageSize`) until a
 * short page. `complete` false as soon as a page's `oldest` shows that the logs no longer reach
 * back to where it starts (retention; or, on a later page read across hubs, a hub that held the
 * rest and did not answer: `Router.logSince`): then nothing is returned.
 */
export async function readKeyLog(read: (from: Offset) => Promise<LogRead>, since: Offset, pageSize: number): Promise<{ complete: boolean, oldest: Offset | null, entries: LogEntry[] }> {
  const entries: LogEntry[] = []
  let from = since
  for (;;) {
    const page = await read(from)
    if (!reachesBack(page.oldest, from)) return { complete: false, oldest: page.oldest, entries: [] }
    entries.push(...page.entries)
    const last = page.entries.at(-1)
    if (!last || page.entries.length < pageSize) return { complete: true, oldest: page.oldest, entries }
    from = { epoch: last.epoch, seq: last.seq }
  }
}

/** A log read: entries after an offset, and the first offset the log holds (null: none). */
export interface LogRead { entries: LogEntry[], oldest: Offset | null }

/** One hub's log read: at most `limit` entries after `after`, only those up to `through` (included) when given. */
export type LogSource = (after: Offset, limit: number, through?: Offset) => Promise<LogRead>

/** Nobody can say what a key's log holds after an offset: its owner holds none of it, and a hub that may did not answer. */
export class LogUnknownError extends Error {
  constructor(failed: number) {
    super(`the key's owner holds none of its log, and ${failed === 1 ? 'a hub that may' : `${failed} hubs that may`} did not answer`)
    this.name = 'LogUnknownError'
  }
}

/**
 * A read after `from` of at most `limit` entries across the ring: the owner's log; and, when it
 * may lack entries after `from` (`mayLackAfter`), what the other hubs hold from `from` itself up
 * to and including the owner's oldest entry (`readFrom`; one more entry, so their part can still
 * fill a page), merged by `withOlder`. `failed` hears of each hub that did not answer; `merged`
 * says whether the answer took entries from the others. LogUnknownError when the owner holds
 * nothing and a hub did not answer.
 */
export async function readAcross(from: Offset, limit: number, owner: LogSource, others: readonly LogSource[], failed: (err: unknown, index: number) => void): Promise<LogRead & { merged: boolean }> {
  const fromOwner = await owner(from, limit)
  if (!mayLackAfter(from, fromOwner.oldest)) return { ...fromOwner, merged: false }
  let failures = 0
  const parts = await Promise.all(others.map((read, i) => read(readFrom(from), limit + 1, fromOwner.oldest ?? undefined).catch((err: unknown) => {
    failures++
    failed(err, i)
    return { entries: [], oldest: null }
  })))
  const answer = withOlder(from, limit, fromOwner, parts)
  // With an owner holding nothing, a page shorter than `limit` would say "the end": unless it
  // shows a gap (no entries, `oldest` after `from`), a hub that did not answer may hold more.
  const short = answer === fromOwner || (answer.entries.length > 0 && answer.entries.length < limit)
  if (fromOwner.oldest === null && failures > 0 && short) throw new LogUnknownError(failures)
  return { ...answer, merged: answer !== fromOwner && answer.entries.length > 0 }
}

const name = (o: Offset): string => `${o.epoch}:${o.seq}`

/**
 * The answer to a read after `from` of at most `limit` entries, given the owner's read (`owner`)
 * and the other hubs' reads of the same key from `from` (`readFrom`) up to and including the
 * owner's oldest entry (`others`; a hub that did not answer is simply not there). The others'
 * entries before the owner's oldest come first, once each, in numbering order, then the owner's
 * entries, only when they run on without a gap from `from` to the owner's oldest entry (or fill
 * the page) and leave none of the others' entries out. Each entry must `follow` the one before
 * it, or be a later epoch's first entry right after it in one hub's log (`from` included when
 * that log holds it): the same trust as reading one log across an epoch boundary, and no more (a
 * seq skipped inside an epoch is a gap, whichever log skips it). Otherwise the answer is the
 * owner's own: its `oldest` shows the reader the gap, and a page shorter than `limit` still means
 * the end of the log. `oldest` of a merged answer: the first offset any hub that answered holds.
 * An owner holding nothing of the key: the others' entries under the same rule; with a gap, no
 * entries and `oldest` at the first entry the run could not reach.
 */
export function withOlder(from: Offset, limit: number, owner: LogRead, others: readonly LogRead[]): LogRead {
  const ownerOldest = owner.oldest
  const older = new Map<string, LogEntry>()
  /** Epoch boundaries `a→b` some hub's log vouches for: a later epoch's first entry right after `a` there. */
  const vouched = new Set<string>()
  for (const part of others) {
    let prev: Offset | undefined
    for (const e of part.entries) {
      if (offsetAfter(from, e)) continue
      if (prev && e.epoch > prev.epoch && e.seq === 1) vouched.add(`${name(prev)}>${name(e)}`)
      prev = e
      if (offsetAfter(e, from) && (ownerOldest === null || offsetAfter(ownerOldest, e))) older.set(name(e), e)
    }
  }
  const next = (a: Offset, b: Offset): boolean => follows(a, b) || vouched.has(`${name(a)}>${name(b)}`)
  const sorted = [...older.values()].sort((a, b) => (offsetAfter(b, a) ? -1 : 1))
  const run: LogEntry[] = []
  let last: Offset = from
  for (const e of sorted) {
    if (run.length === limit || !next(last, e)) break
    run.push(e)
    last = e
  }
  let oldest: Offset | null = ownerOldest
  for (const part of others) if (part.oldest !== null && (oldest === null || offsetAfter(oldest, part.oldest))) oldest = part.oldest
  if (run.length === limit) return { entries: run, oldest }
  const leftOut = sorted[run.length]
  if (ownerOldest === null) {
    if (leftOut) return { entries: [], oldest: { epoch: leftOut.epoch, seq: leftOut.seq } }
    return run.length > 0 ? { entries: run, oldest } : owner
  }
  // A gap before the owner's oldest entry, or older entries the run left out: the owner's answer.
  if (leftOut || !next(last, ownerOldest)) return owner
  return { entries: [...run, ...owner.entries].slice(0, limit), oldest }
}
