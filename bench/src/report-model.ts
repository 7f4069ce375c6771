import type { RunRecord } from './bench-runner.js'
import type { BrokerKind } from './ipc-protocol.js'
import type { MetricSpec, Scenario, Target } from './scenario.js'
import { mean } from './stats.js'

export type Status = 'pass' | 'pass*' | 'fail' | 'error' | 'n/a'

export interface BrokerFigure {
  mean: number
  /** One value per round, in round order (NaN where that run failed). */
  perRound: number[]
}

/** One line of the result table: one metric of one scenario, all brokers side by side. */
export interface MetricRow {
  scenario: string
  metric: MetricSpec
  brokers: Partial<Record<BrokerKind, BrokerFigure>>
  /** ringhub / aedes, from the means, and per round (same-round pairs). */
  ratio?: BrokerFigure
  target?: Target
  /**
   * pass: the mean meets the target; pass*: it does, but at least one round did not (noise or
   * a borderline result); fail: the mean misses it; error: a run needed for it failed;
   * n/a: a broker it needs was not part of this run (--brokers).
   */
  status?: Status
}

export interface CpuFigure {
  brokerPct: number
  loadPct: number
  otherPct: number
}

/** Mean CPU use per broker over the rounds of one scenario, in % of one core. */
export interface CpuRow {
  scenario: string
  brokers: Partial<Record<BrokerKind, CpuFigure>>
}

export function buildRows(scenarios: readonly Scenario[], records: readonly RunRecord[], brokers: readonly BrokerKind[], rounds: number): MetricRow[] {
  return scenarios.flatMap((scenario) => scenario.metrics.map((metric) => {
    const figures: Partial<Record<BrokerKind, BrokerFigure>> = {}
    for (const kind of brokers) {
      const perRound = Array.from({ length: rounds }, (_, r) => valueOf(records, scenario.name, kind, r + 1, metric.key))
      const ok = perRound.filter((v) => !Number.isNaN(v))
      figures[kind] = { mean: ok.length === perRound.length ? mean(ok) : NaN, perRound }
    }
    const row: MetricRow = { scenario: scenario.name, metric, brokers: figures }
    const hub = figures.ringhub
    const ref = figures.aedes
    if (hub && ref) {
      row.ratio = { mean: hub.mean / ref.mean, perRound: hub.perRound.map((v, i) => v / (ref.perRound[i] as number)) }
    }
    if (metric.target) {
      row.target = metric.target
      row.status = judge(metric.target, row)
    }
    return row
  }))
}

export function buildCpuRows(scenarios: readonly Scenario[], records: readonly RunRecord[], brokers: readonly BrokerKind[]): CpuRow[] {
  return scenarios.flatMap((scenario) => {
    const row: CpuRow = { scenario: scenario.name, brokers: {} }
    for (const kind of brokers) {
      const cpus = records.filter((r) => r.scenario === scenario.name && r.broker === kind).flatMap((r) => r.measurement?.cpu ?? [])
      if (cpus.length === 0) continue
      row.brokers[kind] = {
        brokerPct: mean(cpus.map((c) => c.brokerPct)),
        loadPct: mean(cpus.map((c) => c.loadPct ?? NaN)),
        otherPct: mean(cpus.map((c) => c.otherPct ?? NaN)),
      }
    }
    return Object.keys(row.brokers).length > 0 ? [row] : []
  })
}

function valueOf(records: readonly RunRecord[], scenario: string, broker: BrokerKind, round: number, key: string): number {
  const record = records.find((r) => r.scenario === scenario && r.broker === broker && r.round === round)
  return record?.measurement?.metrics[key] ?? NaN
}

function judge(target: Target, row: MetricRow): Status {
  const meets = (v: number): boolean => (target.kind === 'min-ratio' ? v >= target.value : v <= target.value)
  const figure = target.kind === 'min-ratio' ? row.ratio : row.brokers.ringhub
  if (!figure) return 'n/a'
  if (Number.isNaN(figure.mean)) return 'error'
  if (!meets(figure.mean)) return 'fail'
  return figure.perRound.every(meets) ? 'pass' : 'pass*'
}
