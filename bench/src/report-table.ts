import type { RunRecord } from './bench-runner.js'
import type { BrokerKind } from './ipc-protocol.js'
import type { CpuRow, MetricRow, Status } from './report-model.js'
import type { Target } from './scenario.js'

const STATUS_TEXT: Record<Status, string> = { 'pass': 'PASS', 'pass*': 'PASS*', 'fail': 'FAIL', 'error': 'ERROR', 'n/a': 'n/a' }

/** Renders the result table, the CPU table, warnings and the verdicts as plain text. */
export function renderReport(rows: readonly MetricRow[], cpuRows: readonly CpuRow[], records: readonly RunRecord[], brokers: readonly BrokerKind[], rounds: number, cpuCount: number): string {
  const out: string[] = []
  const header = ['scenario', 'metric', ...brokers, 'ringhub/aedes', rounds > 1 ? 'per round' : '', 'target', 'result']
  const body = rows.map((row) => [
    row.scenario,
    `${row.metric.label}${row.metric.unit === 'ms' || row.metric.unit === 'KB' ? ` (${row.metric.unit})` : ''}`,
    ...brokers.map((b) => fmt(row.brokers[b]?.mean, row.metric.digits)),
    row.ratio ? fmt(row.ratio.mean, 2) + '×' : '',
    row.ratio && rounds > 1 ? row.ratio.perRound.map((v) => fmt(v, 2)).join(' ') : '',
    row.target ? targetText(row.target) : '',
    row.status ? STATUS_TEXT[row.status] : '',
  ])
  out.push(table(header, body))

  if (cpuRows.length > 0) {
    out.push('', `CPU during the measured interval, % of one core: broker / load generator / other processes (machine total: ${cpuCount * 100}):`)
    out.push(table(['scenario', ...brokers], cpuRows.map((row) => [
      row.scenario,
      ...brokers.map((b) => {
        const c = row.brokers[b]
        const pct = (v: number): string => (Number.isNaN(v) ? '-' : fmt(v, 0))
        return c ? `${pct(c.brokerPct)} / ${pct(c.loadPct)} / ${pct(c.otherPct)}` : ''
      }),
    ])))
  }

  const warnings = records.flatMap((r) => [
    ...(r.error !== undefined ? [`${r.scenario} on ${r.broker} (round ${r.round}): ERROR ${r.error}`] : []),
    ...(r.measurement?.warnings ?? []).map((w) => `${r.scenario} on ${r.broker} (round ${r.round}): ${w}`),
  ])
  if (warnings.length > 0) out.push('', 'Warnings:', ...warnings.map((w) => `  - ${w}`))

  const judged = rows.filter((r) => r.status !== undefined && r.status !== 'n/a')
  const failed = judged.filter((r) => r.status === 'fail' || r.status === 'error')
  out.push('')
  if (judged.length === 0) out.push('No targets evaluated: they need both ringhub and aedes in the run (--brokers).')
  else if (failed.length === 0) out.push(`All ${judged.length} targets met.` + (judged.some((r) => r.status === 'pass*') ? ' PASS* = the mean meets the target but at least one round did not.' : ''))
  else {
    out.push(`TARGETS NOT MET: ${failed.length} of ${judged.length}`)
    for (const r of failed) out.push(`  - ${r.scenario} ${r.metric.label}: ${verdictText(r)}`)
  }
  return out.join('\n')
}

function verdictText(row: MetricRow): string {
  const target = row.target as Target
  if (row.status === 'error') return 'not measured: a run failed (see warnings)'
  return target.kind === 'min-ratio'
    ? `ringhub/aedes = ${fmt(row.ratio?.mean, 3)}×, target ≥ ${target.value}×`
    : `ringhub = ${fmt(row.brokers.ringhub?.mean, 3)} ${row.metric.unit}, target ≤ ${target.value} ${row.metric.unit}`
}

function targetText(target: Target): string {
  return target.kind === 'min-ratio' ? `≥ ${target.value.toFixed(2)}×` : `≤ ${target.value}`
}

function fmt(value: number | undefined, digits: number): string {
  if (value === undefined) return ''
  if (Number.isNaN(value)) return 'error'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const keep = header.map((h, i) => h !== '' || rows.some((r) => (r[i] ?? '') !== ''))
  const cols = header.map((_, i) => i).filter((i) => keep[i])
  const width = cols.map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: readonly string[]): string => cols.map((i, k) => {
    const cell = cells[i] ?? ''
    // text columns (scenario, metric) left-aligned, figures right-aligned
    return i < 2 ? cell.padEnd(width[k] as number) : cell.padStart(width[k] as number)
  }).join('  ').trimEnd()
  return [line(header), cols.map((_, k) => '-'.repeat(width[k] as number)).join('  '), ...rows.map(line)].join('\n')
}
