import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RunRecord } from './bench-runner.js'
import type { BenchOptions } from './cli-options.js'
import type { CpuRow, MetricRow } from './report-model.js'
import type { Scenario } from './scenario.js'

/** Bumped when a field changes meaning; fields are only ever added otherwise. */
export const RESULT_SCHEMA = 1

export interface MachineInfo {
  cpus: number
  cpuModel: string
  totalMemMiB: number
  node: string
  platform: string
  /** 1/5/15-minute load averages: the machine is shared, so high values explain noise. */
  loadAvgAtStart: number[]
  loadAvgAtEnd?: number[]
}

export function machineInfo(): MachineInfo {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(totalmem() / 1048576),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvgAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
  }
}

/**
 * Which hub code was measured: the hub is rebuilt by `npm run bench`, so two runs of one day may
 * measure different code.`hubChanges` lists uncommitted changes under hub/src (git status, at most 50 lines)..
 */
export interface CodeInfo {
  commit: string | null
  hubChanges: string[]
}

export function codeInfo(): CodeInfo {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const git = (args: string[]): string | null => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim()
    } catch {
      return null // not a repository, no commit yet, or no git
    }
  }
  const status = git(['status', '--porcelain', '--untracked-files=all', '--', 'hub/src'])
  return { commit: git(['rev-parse', 'HEAD']), hubChanges: status ? status.split('\n').slice(0, 50) : [] }
}

export interface ResultFile {
  schema: number
  startedAt: string
  finishedAt: string
  argv: string[]
  options: BenchOptions
  machine: MachineInfo
  code: CodeInfo
  scenarios: Array<Pick<Scenario, 'name' | 'title' | 'description' | 'metrics'>>
  /** The summary the table shows. */
  rows: MetricRow[]
  cpu: CpuRow[]
  /** Every single measurement, with its details and warnings. */
  runs: RunRecord[]
}

/** Writes results/<timestamp>.json and results/latest.json; returns the timestamped path. */
export function writeResults(dir: string, result: ResultFile): string {
  mkdirSync(dir, { recursive: true })
  // NaN (a failed run) is not JSON; null says "no value" without breaking parsers.
  const text = JSON.stringify(result, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2) + '\n'
  const path = join(dir, `${result.startedAt.replace(/[:.]/g, '-')}.json`)
  writeFileSync(path, text)
  writeFileSync(join(dir, 'latest.json'), text)
  return path
}
