import type { RunRecord } from './bench-runner.js'
import type { MetricSpec, Reference, RowSpec, Scenario, Target } from './scenario.js'
import type { SystemKind } from './system-handle.js'
import { mean } from './stats.js'

export type Status = 'pass' | 'pass*' | 'fail' | 'error' | 'n/a'

export interface BrokerFigure {
  mean: number
  /** One value per round, in round order (NaN where that run failed). */
  perRound: number[]
}

/**
 * One line of a result table: one metric of one scenario. Single-broker scenarios (`section`
 * `broker`): every broker side by side, ratio ringhub / aedes. Ring scenarios (`ring`): `subject`
 * against `reference`, one row per pair the scenario names (RowSpec).
 */
export interface MetricRow {
  scenario: string
  section: 'broker' | 'ring'
  metric: MetricSpec
  /** Figures by system (and `issue-2` for the estimated issue-2 hub); absent: not run, or the system does not report this metric. */
  brokers: Partial<Record<Reference, BrokerFigure>>
  subject: SystemKind
  reference?: Reference
  /** subject / reference, from the means, and per round (same-round pairs). */
  ratio?: BrokerFigure
  target?: Target
  /**
   * pass: the mean meets the target; pass*: it does, but at least one round did not (noise or
   * a borderline result); fail: the mean misses it; error: a run needed for it failed;
   * n/a: a system it needs was not part of this run (--brokers).
   */
  status?: Status
}

export interface CpuFigure {
  brokerPct: number
  loadPct: number
  otherPct: number
}

/** Mean CPU use per system over the rounds of one scenario, in % of one core. */
export interface CpuRow {
  scenario: string
  section: 'broker' | 'ring'
  brokers: Partial<Record<SystemKind, CpuFigure>>
}

/**
 * ringhub/aedes ratios of issue 2's hub, by `scenario/metric` (from reference-issue-2.json), for
 * the `issue-2` reference: that hub's figure estimated for this run is this run's aedes figure
 * times the ratio.
 */
export type Issue2Ratios = ReadonlyMap<string, number>

export function buildRows(scenarios: readonly Scenario[], records: readonly RunRecord[], systemsOf: (s: Scenario) => readonly SystemKind[], rounds: number, issue2: Issue2Ratios): MetricRow[] {
  return scenarios.flatMap((scenario) => {
    const systems = systemsOf(scenario)
    const figure = (kind: SystemKind, key: string): BrokerFigure | undefined => systems.includes(kind) ? figureOf(records, scenario.name, kind, rounds, key) : undefined
    if (!scenario.rows) {
      return scenario.metrics.map((metric) => {
        const figures: Partial<Record<Reference, BrokerFigure>> = {}
        for (const kind of systems) figures[kind] = figure(kind, metric.key) ?? { mean: NaN, perRound: Array.from({ length: rounds }, () => NaN) }
        return finish({ scenario: scenario.name, section: 'broker', metric, brokers: figures, subject: 'ringhub', reference: 'aedes' }, metric.target)
      })
    }
    return scenario.rows.flatMap((spec: RowSpec) => {
      const metric = scenario.metrics.find((m) => m.key === spec.metric)
      if (!metric) throw new Error(`scenario ${scenario.name}: row for unknown metric ${spec.metric}`)
      const figures: Partial<Record<Reference, BrokerFigure>> = {}
      const subject = figure(spec.subject, spec.metric)
      if (subject) figures[spec.subject] = subject
      if (spec.reference === 'issue-2') {
        const estimate = issue2Estimate(figure('aedes', spec.metric), issue2.get(`${scenario.issue2Scenario ?? ''}/${spec.metric}`), rounds)
        if (estimate) figures['issue-2'] = estimate
      } else if (spec.reference !== undefined) {
        const ref = figure(spec.reference, spec.metric)
        if (ref) figures[spec.reference] = ref
      }
      const row: MetricRow = { scenario: scenario.name, section: 'ring', metric, brokers: figures, subject: spec.subject, ...(spec.reference !== undefined ? { reference: spec.reference } : {}) }
      return [finish(row, spec.target)]
    })
  })
}

/** Adds the ratio (when both figures are there) and the verdict. */
function finish(row: MetricRow, target: Target | undefined): MetricRow {
  const subject = row.brokers[row.subject]
  const ref = row.reference === undefined ? undefined : row.brokers[row.reference]
  if (subject && ref) {
    row.ratio = { mean: subject.mean / ref.mean, perRound: subject.perRound.map((v, i) => v / (ref.perRound[i] as number)) }
  }
  if (target) {
    row.target = target
    row.status = judge(target, row)
  }
  return row
}

/** Issue 2's hub estimated for this run: this run's aedes figure × issue 2's ringhub/aedes ratio. */
export function issue2Estimate(aedes: BrokerFigure | undefined, ratio: number | undefined, rounds: number): BrokerFigure | undefined {
  if (!aedes) return undefined
  if (ratio === undefined) return { mean: NaN, perRound: Array.from({ length: rounds }, () => NaN) }
  return { mean: aedes.mean * ratio, perRound: aedes.perRound.map((v) => v * ratio) }
}

/** The ringhub/aedes ratios of a result file (reference-issue-2.json), by `scenario/metric`. */
export function issue2Ratios(result: { rows?: ReadonlyArray<{ scenario: string, metric: { key: string }, ratio?: { mean: number | null } }> }): Map<string, number> {
  const out = new Map<string, number>()
  for (const row of result.rows ?? []) {
    const ratio = row.ratio?.mean
    if (typeof ratio === 'number' && Number.isFinite(ratio)) out.set(`${row.scenario}/${row.metric.key}`, ratio)
  }
  return out
}

export function buildCpuRows(scenarios: readonly Scenario[], records: readonly RunRecord[], systemsOf: (s: Scenario) => readonly SystemKind[]): CpuRow[] {
  return scenarios.flatMap((scenario) => {
    const row: CpuRow = { scenario: scenario.name, section: scenario.rows ? 'ring' : 'broker', brokers: {} }
    for (const kind of systemsOf(scenario)) {
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

/**
 * A system's figure for one metric over the rounds: NaN for a round whose run failed; undefined
 * when every run succeeded without reporting the metric (a ring-only counter on aedes+redis).
 */
function figureOf(records: readonly RunRecord[], scenario: string, kind: SystemKind, rounds: number, key: string): BrokerFigure | undefined {
  const values = Array.from({ length: rounds }, (_, r) => {
    const record = records.find((x) => x.scenario === scenario && x.broker === kind && x.round === r + 1)
    if (!record?.measurement) return NaN
    return record.measurement.metrics[key]
  })
  if (values.every((v) => v === undefined)) return undefined
  const perRound = values.map((v) => v ?? NaN)
  const ok = perRound.filter((v) => !Number.isNaN(v))
  return { mean: ok.length === perRound.length ? mean(ok) : NaN, perRound }
}

function judge(target: Target, row: MetricRow): Status {
  const meets = (v: number): boolean => (target.kind === 'min-ratio' ? v >= target.value : v <= target.value)
  const figure = target.kind === 'min-ratio' ? row.ratio : row.brokers[row.subject]
  if (!figure) {
    // A system that ran but failed shows as NaN figures (error); one that was not selected is n/a.
    return 'n/a'
  }
  if (Number.isNaN(figure.mean)) return 'error'
  if (!meets(figure.mean)) return 'fail'
  return figure.perRound.every(meets) ? 'pass' : 'pass*'
}
