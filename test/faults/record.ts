import { appendFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { expect } from 'vitest'
import { REPO_ROOT } from '../helpers/hubs.js'

/**
 * What a fault scenario measured and how it did against its pass criteria. Every scenario of
 * `npm run test:faults` records one (or more) of these; the faults reporter (faults-reporter.ts)
 * gathers them into one summary table, printed and written to test-results/faults/summary.md.
 */
export interface ScenarioRecord {
  /** Short name, unique in the suite, e.g. `kill -9 owner, restarted after 15 s`. */
  scenario: string
  /** The seed the scenario used (printed so a run can be repeated), when it draws random numbers. */
  seed?: number
  /** Measured figures: `acked`, `lost`, `detection ms`, ... in the order they should be printed. */
  figures: Record<string, number | string>
  criteria: Criterion[]
}

export interface Criterion {
  /** What is checked, e.g. `lost`. */
  name: string
  value: number | string | boolean
  /** The bound as text, e.g. `== 0`, `<= 8000`. */
  limit: string
  pass: boolean
}

/** Where scenarios append their records (one JSON object per line); the reporter reads it. */
export const FAULTS_DIR = join(REPO_ROOT, 'test-results', 'faults')
export const RESULTS_FILE = join(FAULTS_DIR, 'results.jsonl')

/** A numeric criterion: `value op limit`. */
export function criterion(name: string, value: number, op: '==' | '<=' | '>=' | '<' | '>', limit: number): Criterion {
  const pass = op === '==' ? value === limit : op === '<=' ? value <= limit : op === '>=' ? value >= limit : op === '<' ? value < limit : value > limit
  return { name, value, limit: `${op} ${limit}`, pass }
}

/** A yes/no criterion. */
export function holds(name: string, ok: boolean, what = 'true'): Criterion {
  return { name, value: ok, limit: what, pass: ok }
}

/**
 * Records the scenario for the summary and prints it, then fails the test (one assertion naming
 * every failed criterion) when any criterion failed. Call it once per scenario, at its end.
 */
export function reportScenario(record: ScenarioRecord): void {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  appendFileSync(RESULTS_FILE, JSON.stringify(record) + '\n')
  const figures = Object.entries(record.figures).map(([k, v]) => `${k}=${v}`).join(' ')
  process.stdout.write(`[faults] ${record.scenario}${record.seed === undefined ? '' : ` (seed ${record.seed})`}: ${figures}\n`)
  const failed = record.criteria.filter((c) => !c.pass).map((c) => `${c.name} = ${String(c.value)} (wanted ${c.limit})`)
  expect(failed, `${record.scenario}: failed criteria`).toEqual([])
}
