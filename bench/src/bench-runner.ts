import { BrokerHandle } from './broker-handle.js'
import type { BrokerKind } from './ipc-protocol.js'
import type { Measurement, RunContext, Scenario } from './scenario.js'

/** Broker start, stop and worker forks around each measurement, on top of the scenario's own budget. */
const OVERHEAD_MS = 5000

export interface RunRecord {
  scenario: string
  broker: BrokerKind
  round: number
  /** 0 = this broker ran first for this scenario in this round. */
  position: number
  startedAt: string
  wallMs: number
  measurement?: Measurement
  error?: string
}

/** Broker order of a round: as given in odd rounds, reversed in even ones (order effects show). */
export function brokerOrder(brokers: readonly BrokerKind[], round: number): BrokerKind[] {
  return round % 2 === 1 ? [...brokers] : [...brokers].reverse()
}

/** Upper bound on the wall time of the whole suite, for the runner's watchdog. */
export function suiteBudgetMs(scenarios: readonly Scenario[], ctx: RunContext): number {
  const { options } = ctx
  const one = scenarios.reduce((total, s) => total + s.budgetMs(options) + OVERHEAD_MS, 0)
  return one * options.brokers.length * options.rounds
}

/**
 * Runs every scenario against every broker, one broker process at a time (never two at once:
 * the machine has 2 cores), a fresh broker for every measurement. A failed run is recorded and
 * the suite goes on.
 */
export async function runSuite(scenarios: readonly Scenario[], ctx: RunContext, progress: (line: string) => void): Promise<RunRecord[]> {
  const { options } = ctx
  const records: RunRecord[] = []
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      for (const [position, kind] of brokerOrder(options.brokers, round).entries()) {
        const label = `round ${round}/${options.rounds} ${scenario.name} on ${kind}`
        progress(`${label} ...`)
        const startMs = performance.now()
        const record: RunRecord = { scenario: scenario.name, broker: kind, round, position, startedAt: new Date().toISOString(), wallMs: 0 }
        let broker: BrokerHandle | undefined
        try {
          broker = await BrokerHandle.start(kind, ctx.registry, { connections: scenario.connections(options), output: ctx.output })
          record.measurement = await scenario.run(broker, ctx)
        } catch (err) {
          record.error = err instanceof Error ? err.message : String(err)
        } finally {
          const problem = await broker?.stop().catch((err: unknown) => `stop failed: ${String(err)}`)
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
  const parts = scenario.metrics.map((spec) => `${spec.label} ${(m.metrics[spec.key] ?? NaN).toFixed(spec.digits)}`)
  if (m.cpu) parts.push(`cpu broker ${m.cpu.brokerPct.toFixed(0)}% load ${(m.cpu.loadPct ?? NaN).toFixed(0)}% other ${(m.cpu.otherPct ?? NaN).toFixed(0)}%`)
  return parts.join(', ') + m.warnings.map((w) => ` [warning: ${w}]`).join('')
}
