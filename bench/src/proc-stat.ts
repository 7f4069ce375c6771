import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** CPU time and resident size of a process, from /proc/<pid>/stat. */
export interface ProcUsage {
  cpuUserUs: number
  cpuSystemUs: number
  rssBytes: number
}

/**
 * Parses the text of /proc/<pid>/stat (proc(5)): utime and stime are fields 14 and 15 in clock
 * ticks, rss field 24 in pages. The command name (field 2) is in parentheses and may itself
 * hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string, ticksPerS: number, pageBytes: number): ProcUsage {
  const close = text.lastIndexOf(')')
  if (close < 0) throw new Error('not a /proc/<pid>/stat line')
  // After ") " comes field 3 (state): field n is at index n - 3.
  const fields = text.slice(close + 2).trim().split(/\s+/)
  const field = (n: number): number => {
    const v = Number(fields[n - 3])
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat field ${n} is not a number`)
    return v
  }
  const usPerTick = 1e6 / ticksPerS
  return { cpuUserUs: field(14) * usPerTick, cpuSystemUs: field(15) * usPerTick, rssBytes: field(24) * pageBytes }
}

let units: { ticksPerS: number, pageBytes: number } | undefined

/** Usage of a process that is not ours to ask over IPC (Redis); Linux only. */
export function procUsage(pid: number): ProcUsage {
  units ??= { ticksPerS: getconf('CLK_TCK', 100), pageBytes: getconf('PAGESIZE', 4096) }
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), units.ticksPerS, units.pageBytes)
}

function getconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000 }).trim())
    return Number.isFinite(v) && v > 0 ? v : fallback
  } catch {
    return fallback
  }
}
