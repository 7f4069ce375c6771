import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DB_FILE } from '../../hub/src/hub.js'

/**
 * Host-level faults for the storage, CPU and clock scenarios of the fault suite (issue 7): a
 * small filesystem (tmpfs with `size=`), a CPU-quota cgroup (cgroup v1 `cpu` controller),
 * libfaketime, a seeded random source, and read-only looks into a hub's SQLite file. Every
 * resource comes with its own idempotent cleanup, to be called in `finally`/`afterAll`.
 */

/** mulberry32: a small seeded generator, so a scenario's random choices repeat for its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The seed from `RINGHUB_FAULT_SEED` (to repeat a run), else a fresh one; printed either way. */
export function scenarioSeed(scenario: string): number {
  const fromEnv = process.env.RINGHUB_FAULT_SEED
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
  process.stdout.write(`[faults] ${scenario}: seed ${seed} (repeat with RINGHUB_FAULT_SEED=${seed})\n`)
  return seed
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ------------------------------------------------------------------------------ SQLite

/** `PRAGMA integrity_check` of a hub's data directory, through a read-only connection. */
export function integrityCheck(dataDir: string): string {
  return withReadOnlyDb(dataDir, (db) => (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join('; '))
}

/** Every payload in the hub's topic log, with how often it is there (read-only connection). */
export function loggedPayloads(dataDir: string): Map<string, number> {
  return withReadOnlyDb(dataDir, (db) => {
    const counts = new Map<string, number>()
    for (const row of db.prepare('SELECT payload FROM topic_log').iterate() as IterableIterator<{ payload: Buffer | string }>) {
      const p = row.payload.toString()
      counts.set(p, (counts.get(p) ?? 0) + 1)
    }
    return counts
  })
}

/** Runs `fn` on a read-only connection to `<dataDir>/hub.sqlite` (the hub may be running: WAL). */
export function withReadOnlyDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true, fileMustExist: true })
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

// ------------------------------------------------------------------------------ small filesystem

export interface SmallFs {
  path: string
  /** Bytes free for an unprivileged writer right now. */
  freeBytes: () => number
  /** Unmounts and removes the mount point. Idempotent. */
  remove: () => void
}

/** A tmpfs of `sizeBytes` mounted at a new directory (needs root). */
export function mountSmallFs(sizeBytes: number, prefix = 'ringhub-fs-'): SmallFs {
  const path = execFileSync('mktemp', ['-d', `/tmp/${prefix}XXXXXX`], { encoding: 'utf8' }).trim()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', path])
  } catch (err) {
    rmdirSync(path)
    throw err
  }
  let mounted = true
  return {
    path,
    freeBytes: () => {
      const out = execFileSync('df', ['--output=avail', '-B1', path], { encoding: 'utf8' }).trim().split('\n')
      return Number(out[out.length - 1])
    },
    remove: () => {
      if (!mounted) return
      // A process still holding files there (a hub that did not exit yet) makes umount fail:
      // retry lazily so the mount never outlives the run.
      try {
        execFileSync('umount', [path])
      } catch {
        execFileSync('umount', ['-l', path])
      }
      mounted = false
      rmSync(path, { recursive: true, force: true })
    },
  }
}

/** Writes `bytes` of zeros to `file` (up to what fits); returns how many were written. */
export function fillFile(file: string, bytes: number): number {
  const chunk = Buffer.alloc(64 * 1024)
  let written = 0
  try {
    writeFileSync(file, Buffer.alloc(0))
    while (written < bytes) {
      const n = Math.min(chunk.length, bytes - written)
      writeFileSync(file, chunk.subarray(0, n), { flag: 'a' })
      written += n
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  return written
}

// ------------------------------------------------------------------------------ CPU quota

const CPU_CGROUP_ROOT = '/sys/fs/cgroup/cpu'

export interface CpuQuotaGroup {
  dir: string
  /** Moves a process into the group. */
  add: (pid: number) => void
  /** Moves every process of the group back to the root group and removes the group. Idempotent. */
  remove: () => void
  /** `nr_throttled` and `throttled_time` (ns) from cpu.stat. */
  stat: () => { periods: number, throttled: number, throttledMs: number }
}

/** A cgroup v1 child of the cpu controller limited to `quotaPercent` of one CPU (needs root). */
export function cpuQuotaGroup(name: string, quotaPercent: number): CpuQuotaGroup {
  if (!existsSync(join(CPU_CGROUP_ROOT, 'cpu.cfs_quota_us'))) throw new Error(`no cgroup v1 cpu controller at ${CPU_CGROUP_ROOT}`)
  const dir = join(CPU_CGROUP_ROOT, name)
  mkdirSync(dir, { recursive: true })
  const periodUs = 100_000
  writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs))
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(periodUs * quotaPercent / 100)))
  let removed = false
  return {
    dir,
    add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
    stat: () => {
      const fields = new Map(readFileSync(join(dir, 'cpu.stat'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]))
      return { periods: Number(fields.get('nr_periods')), throttled: Number(fields.get('nr_throttled')), throttledMs: Math.round(Number(fields.get('throttled_time')) / 1e6) }
    },
    remove: () => {
      if (removed) return
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l.trim() !== '')) {
        try {
          writeFileSync(join(CPU_CGROUP_ROOT, 'cgroup.procs'), pid)
        } catch { /* exited meanwhile */ }
      }
      rmdirSync(dir)
      removed = true
    },
  }
}

// ------------------------------------------------------------------------------ clock

export const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'

/**
 * Environment that runs a process under libfaketime with its wall clock offset as written in
 * `specFile` (e.g. `+30s`), re-read every second, so rewriting the file makes the clock jump.
 * The monotonic clock is left alone, as on a real machine whose wall clock NTP or an operator
 * moves (CLOCK_MONOTONIC never jumps).
 */
export function faketimeEnv(specFile: string): NodeJS.ProcessEnv {
  if (!existsSync(FAKETIME_LIB)) throw new Error(`libfaketime missing (${FAKETIME_LIB}): apt-get install -y libfaketime`)
  return {
    LD_PRELOAD: FAKETIME_LIB,
    FAKETIME_TIMESTAMP_FILE: specFile,
    FAKETIME_CACHE_DURATION: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  }
}
