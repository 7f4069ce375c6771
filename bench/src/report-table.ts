import type { RunRecord } from './bench-runner.js'
import type { BrokerKind } from './ipc-protocol.js'
import type { CpuRow, MetricRow, Status } from './report-model.js'
import type { Reference, Target } from './scenario.js'
import { SYSTEM_LABELS, type SystemKind } from './system-handle.js'

const STATUS_TEXT: Record<Status, string> = { 'pass': 'PASS', 'pass*': 'PASS*', 'fail': 'FAIL', 'error': 'ERROR', 'n/a': 'n/a' }

/** How a reference is named in the ring table. */
export function referenceLabel(ref: Reference): string {
  return ref === 'issue-2' ? 'issue-2 hub (est.)' : ref === 'ringhub' ? 'single hub' : SYSTEM_LABELS[ref]
}

/**
 * Renders the result tables (single brokers; the ring of 3 hubs when its scenarios ran), the CPU
 * tables, warnings and the verdicts as plain text.
 */
export function renderReport(rows: readonly MetricRow[], cpuRows: readonly CpuRow[], records: readonly RunRecord[], brokers: readonly BrokerKind[], rounds: number, cpuCount: number, replicationFactor = 2): string {
  const out: string[] = []
  const brokerRows = rows.filter((r) => r.section === 'broker')
  const ringRows = rows.filter((r) => r.section === 'ring')
  const cpuNote = `CPU during the measured interval, % of one core: system (all its processes) / load generator / other processes (machine total: ${cpuCount * 100}):`

  if (brokerRows.length > 0) {
    const header = ['scenario', 'metric', ...brokers, 'ringhub/aedes', rounds > 1 ? 'per round' : '', 'target', 'result']
    out.push(table(header, brokerRows.map((row) => [
      row.scenario,
      metricLabel(row),
      ...brokers.map((b) => fmt(row.brokers[b]?.mean, row.metric.digits)),
      row.ratio ? fmt(row.ratio.mean, 2) + '×' : '',
      row.ratio && rounds > 1 ? row.ratio.perRound.map((v) => fmt(v, 2)).join(' ') : '',
      row.target ? targetText(row.target) : '',
      row.status ? STATUS_TEXT[row.status] : '',
    ])))
    const cpu = cpuRows.filter((r) => r.section === 'broker')
    if (cpu.length > 0) out.push('', cpuNote, cpuTable(cpu, brokers))
  }

  if (ringRows.length > 0) {
    if (out.length > 0) out.push('')
    out.push(`Ring of 3 hubs (issue 4): each row compares the ring (publisher, owner and subscriber hubs as the scenario says; replication factor ${replicationFactor}) with one reference of the same run.`)
    const header = ['scenario', 'metric', 'ring', 'vs', 'value', 'ratio', rounds > 1 ? 'per round' : '', 'target', 'result']
    out.push(table(header, ringRows.map((row) => [
      row.scenario,
      metricLabel(row),
      fmt(row.brokers[row.subject]?.mean, row.metric.digits),
      row.reference !== undefined ? referenceLabel(row.reference) : '',
      row.reference !== undefined ? fmt(row.brokers[row.reference]?.mean, row.metric.digits) : '',
      row.ratio ? fmt(row.ratio.mean, 2) + '×' : '',
      row.ratio && rounds > 1 ? row.ratio.perRound.map((v) => fmt(v, 2)).join(' ') : '',
      row.target ? targetText(row.target) : '',
      row.status ? STATUS_TEXT[row.status] : '',
    ])))
    const cpu = cpuRows.filter((r) => r.section === 'ring')
    const systems = (['ring', 'aedes-cluster', 'aedes-redis', 'ringhub', 'aedes'] as const).filter((k) => cpu.some((r) => r.brokers[k]))
    if (cpu.length > 0) out.push('', cpuNote, cpuTable(cpu, systems))
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
    for (const r of failed) out.push(`  - ${r.scenario} ${r.metric.label}${r.section === 'ring' && r.reference !== undefined ? ` vs ${referenceLabel(r.reference)}` : ''}: ${verdictText(r)}`)
  }
  const goals = judged.filter((r) => r.target?.kind === 'min-ratio' && r.target.goal !== undefined && r.ratio)
  for (const r of goals) {
    const goal = (r.target as { goal: number }).goal
    out.push(`Goal: ${r.scenario} ${r.metric.label} ${fmt(r.ratio?.mean, 2)}× ${r.reference !== undefined ? referenceLabel(r.reference) : ''} — goal ${goal}× ${(r.ratio?.mean ?? NaN) >= goal ? 'reached' : 'not reached'}.`)
  }
  return out.join('\n')
}

function metricLabel(row: MetricRow): string {
  return `${row.metric.label}${row.metric.unit === 'ms' || row.metric.unit === 'KB' ? ` (${row.metric.unit})` : ''}`
}

function cpuTable(rows: readonly CpuRow[], systems: readonly SystemKind[]): string {
  return table(['scenario', ...systems.map((s) => SYSTEM_LABELS[s])], rows.map((row) => [
    row.scenario,
    ...systems.map((b) => {
      const c = row.brokers[b]
      const pct = (v: number): string => (Number.isNaN(v) ? '-' : fmt(v, 0))
      return c ? `${pct(c.brokerPct)} / ${pct(c.loadPct)} / ${pct(c.otherPct)}` : ''
    }),
  ]))
}

function verdictText(row: MetricRow): string {
  const target = row.target as Target
  if (row.status === 'error') return 'not measured: a run failed (see warnings)'
  const subject = row.section === 'ring' ? 'ring' : 'ringhub'
  const reference = row.reference === undefined ? '' : row.section === 'ring' ? referenceLabel(row.reference) : row.reference
  return target.kind === 'min-ratio'
    ? `${subject}/${reference} = ${fmt(row.ratio?.mean, 3)}×, target ≥ ${target.value}×`
    : `${subject} = ${fmt(row.brokers[row.subject]?.mean, 3)} ${row.metric.unit}, target ≤ ${target.value} ${row.metric.unit}`
}

function targetText(target: Target): string {
  return target.kind === 'min-ratio' ? `≥ ${target.value.toFixed(2)}×` : `≤ ${target.value}`
}

function fmt(value: number | undefined, digits: number): string {
  if (value === undefined) return ''
  if (Number.isNaN(value)) return 'error'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/**
 * A plain-text table: columns that are empty throughout left out, the first `textColumns` (and a
 * `vs` column) left-aligned, figures right-aligned.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 2): string {
  const keep = header.map((h, i) => h !== '' || rows.some((r) => (r[i] ?? '') !== ''))
  const cols = header.map((_, i) => i).filter((i) => keep[i])
  const width = cols.map((i) => Math.max(header[i]?.length ?? 0, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: readonly string[]): string => cols.map((i, k) => {
    const cell = cells[i] ?? ''
    // text columns (scenario, metric, and the ring table's reference name) left-aligned, figures right-aligned
    return i < textColumns || header[i] === 'vs' ? cell.padEnd(width[k] as number) : cell.padStart(width[k] as number)
  }).join('  ').trimEnd()
  return [line(header), cols.map((_, k) => '-'.repeat(width[k] as number)).join('  '), ...rows.map(line)].join('\n')
}
