import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Reporter } from 'vitest/node'
import { FAULTS_DIR, RESULTS_FILE, type ScenarioRecord } from './record.js'

/**
 * Gathers the records of every fault scenario (record.ts) into one table: scenario, figures,
 * criteria, pass/fail. Printed after the run and written to test-results/faults/summary.md.
 */
export default class FaultsReporter implements Reporter {
  onTestRunStart(): void {
    rmSync(RESULTS_FILE, { force: true })
  }

  onTestRunEnd(): void {
    const records: ScenarioRecord[] = existsSync(RESULTS_FILE)
      ? readFileSync(RESULTS_FILE, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ScenarioRecord)
      : []
    const table = summaryTable(records)
    mkdirSync(FAULTS_DIR, { recursive: true })
    writeFileSync(join(FAULTS_DIR, 'summary.md'), table)
    process.stdout.write(`\n${table}\n(written to ${join(FAULTS_DIR, 'summary.md')})\n`)
  }
}

/** A markdown table, one row per recorded scenario. */
export function summaryTable(records: readonly ScenarioRecord[]): string {
  const rows = records.map((r) => {
    const figures = Object.entries(r.figures).map(([k, v]) => `${k} ${v}`).join('; ')
    const criteria = r.criteria.map((c) => `${c.pass ? '' : '**FAILED** '}${c.name} ${String(c.value)} (${c.limit})`).join('; ')
    const pass = r.criteria.every((c) => c.pass) ? 'pass' : '**FAIL**'
    return `| ${cell(r.scenario)}${r.seed === undefined ? '' : ` (seed ${r.seed})`} | ${cell(figures)} | ${cell(criteria)} | ${pass} |`
  })
  const passed = records.filter((r) => r.criteria.every((c) => c.pass)).length
  return [
    '# Fault suite summary',
    '',
    `${passed} of ${records.length} scenarios passed.`,
    '',
    '| scenario | figures | criteria | result |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n')
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}
