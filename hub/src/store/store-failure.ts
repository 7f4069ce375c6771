import { StoreError } from '../base/errors.js'

/**
 * Why a SQLite write failed, as counted in `ringhub_store_errors_total{reason}`:
 * `disk-full` (SQLITE_FULL: the filesystem, or the file's size limit, has no room), `io`
 * (SQLITE_IOERR_*: the disk or filesystem failed a read or write), `busy` (SQLITE_BUSY /
 * SQLITE_LOCKED: another connection held the lock past the busy timeout), `other`.
 */
export type StoreFailureReason = 'disk-full' | 'io' | 'busy' | 'other'

/** The reason of the first SQLite error code found along `err`'s cause chain. */
export function storeFailureReason(err: unknown): StoreFailureReason {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code
    if (typeof code !== 'string' || !code.startsWith('SQLITE_')) continue
    if (code === 'SQLITE_FULL') return 'disk-full'
    if (code.startsWith('SQLITE_IOERR')) return 'io'
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy'
    return 'other'
  }
  return 'other'
}

/**
 * Whether `err` is (or was caused by) a failed store write. HubDb logs such a failure once when
 * it starts and once when writes succeed again, so callers that only pass the error on (a
 * publish not acknowledged, a stats point not saved) log it at debug level, not once per write.
 */
export function isStoreFailure(err: unknown): boolean {
  return causeChain(err).some((e) => e instanceof StoreError || (typeof (e as { code?: unknown }).code === 'string' && ((e as { code: string }).code).startsWith('SQLITE_')))
}

function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = []
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 16; e = (e as { cause?: unknown }).cause) chain.push(e)
  return chain
}
