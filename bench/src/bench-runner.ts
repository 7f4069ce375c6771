import type { Measurement, RunContext, Scenario } from './scenario.js'
import { startSystem, overheadMs } from './systems.js'
import type { SystemHandle, SystemKind } from './system-handle.js'

export interface RunRecord {
  scenario: string
  /** The system measured (the field kept its name from when every system was one broker). */
  broker: SystemKind
  round: number
  /** 0 = this system ran first for this scenario in this round. */
  position: number
  startedAt: string
  wallMs: number
  measurement?: Measurement
  error?: string
}

/** System order of a round: as given in odd rounds, reversed in even ones (order effects show). */
export function brokerOrder<T>(systems: readonly T[], round: number): T[] {
  return round % 2 === 1 ? [...systems] : [...systems].reverse()
}

/** The systems a scenario runs on: its own list (ring scenarios), else the brokers of --brokers. */
export function systemsOf(scenario: Scenario, ctx: RunContext): readonly SystemKind[] {
  return scenario.systems ?? ctx.options.brokers
}

/** Upper bound on the wall time of the whole suite, for the runner's watchdog. */
export function suiteBudgetMs(scenarios: readonly Scenario[], ctx: RunContext): number {
  const { options } = ctx
  const one = scenarios.reduce((total, s) => total + systemsOf(s, ctx).reduce((n, kind) => n + s.budgetMs(options) + overheadMs(kind), 0), 0)
  return one * options.rounds
}

/**
 * Runs every scenario against each of its systems, one system at a time (never two at once:
 * the machine has 2 cores), a fresh system for every measurement. A failed run is recorded and
 * the suite goes on.
 */
export async function runSuite(scenarios: readonly Scenario[], ctx: RunContext, progress: (line: string) => void): Promise<RunRecord[]> {
  const { options } = ctx
  const records: RunRecord[] = []
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      for (const [position, kind] of brokerOrder(systemsOf(scenario, ctx), round).entries()) {
        const label = `round ${round}/${options.rounds} ${scenario.name} on ${kind}`
        progress(`${label} ...`)
        const startMs = performance.now()
        const record: RunRecord = { scenario: scenario.name, broker: kind, round, position, startedAt: new Date().toISOString(), wallMs: 0 }
        let system: SystemHandle | undefined
        try {
          system = await startSystem(kind, options, ctx.registry, { connections: scenario.connections(options), output: ctx.output })
          record.measurement = await scenario.run(system, ctx)
        } catch (err) {
          record.error = err instanceof Error ? err.message : String(err)
        } finally {
          const problem = await system?.stop().catch((err: unknown) => `stop failed: ${String(err)}`)
          // A broker that died (even after its numbers were taken) is a finding, never silent.
          if (problem !== undefined) {
            const text = `broker process ${problem} (its output is above)`
            if (record.measurement) record.measurement.warnings.push(text)
            else record.error = `${record.error ?? 'run failed'}; ${text}`
          }
        }
        record.wallMs = Math.round(performance.now() - startMs)
        records.push(record)
        progress(`${label}: ${describe(scenario, record)}`)
      }
    }
  }
  return records
}

function describe(scenario: Scenario, record: RunRecord): string {
  if (record.error !== undefined) return `ERROR ${record.error}`
  const m = record.measurement as Measurement
  const parts = scenario.metrics.flatMap((spec) => {
    const v = m.metrics[spec.key]
    return v === undefined ? [] : [`${spec.label} ${v.toFixed(spec.digits)}`]
  })
  if (m.cpu) parts.push(`cpu broker ${m.cpu.brokerPct.toFixed(0)}% load ${(m.cpu.loadPct ?? NaN).toFixed(0)}% other ${(m.cpu.otherPct ?? NaN).toFixed(0)}%`)
  return parts.join(', ') + m.warnings.map((w) => ` [warning: ${w}]`).join('')
}
