import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DemoChildError } from './demo-child.js'

/** Whether process `pid` exists (signal 0 tests without sending anything). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Claims `<data>/demo.pid` for this process. Two demos on one data directory would run two hubs
 * `a` on one SQLite file; the second demo is refused up front, naming the first, instead of
 * failing later with a hub's store error. A file left by a demo that was killed (its pid gone)
 * is taken over. Returns the release.
 */
export function claimDataDir(data: string): () => void {
  mkdirSync(data, { recursive: true })
  const path = join(data, 'demo.pid')
  let holder: number | undefined
  try {
    holder = Number(readFileSync(path, 'utf8').trim())
  } catch { /* no file: free */ }
  if (holder !== undefined && Number.isInteger(holder) && holder > 0 && holder !== process.pid && running(holder)) {
    throw new DemoChildError(`another demo (pid ${holder}) is using ${data}; stop it, or give this one another --data DIR`)
  }
  writeFileSync(path, `${process.pid}\n`)
  return () => rmSync(path, { force: true })
}
