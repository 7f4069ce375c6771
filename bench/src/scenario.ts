import type { ChildRegistry } from './child-spawn.js'
import type { BenchOptions } from './cli-options.js'
import type { SystemHandle, SystemKind } from './system-handle.js'

/**
 * What a target asks of ringhub: at least `value` times the reference's figure (`min-ratio`;
 * `goal`: what the issue hopes for beyond the target, printed beside it), or an absolute
 * ceiling on ringhub's own figure (`max`).
 */
export type Target =
  | { kind: 'min-ratio', value: number, goal?: number }
  | { kind: 'max', value: number }

/**
 * The reference of a ring-table row: another system of the same run, or `issue-2`, issue 2's
 * single hub estimated for this run: this run's aedes figure × ringhub/aedes of the same
 * scenario in bench/results/reference-issue-2.json (the hub of issue 2 is no longer built, but
 * aedes has not changed, so the ratio carries over).
 */
export type Reference = SystemKind | 'issue-2'

/** One row of the ring table: a metric of `subject` against `reference`, judged by `target`. */
export interface RowSpec {
  metric: string
  subject: SystemKind
  reference?: Reference
  target?: Target
}

export interface MetricSpec {
  key: string
  label: string
  unit: string
  /** Direction of "better", for reading ratios. */
  better: 'higher' | 'lower'
  digits: number
  target?: Target
}

export interface Measurement {
  metrics: Record<string, number>
  /**
   * CPU time during the measured interval, in % of one core (100 = one core busy): the broker
   * process, the load-generator processes, and everything else on the machine.
   */
  cpu?: { brokerPct: number, loadPct?: number, otherPct?: number }
  /** Anything a reader needs to trust the numbers (offered rate, lost connections, ...). */
  details: Record<string, number | string>
  warnings: string[]
}

export interface RunContext {
  options: BenchOptions
  registry: ChildRegistry
  /** Lines printed by child processes. */
  output: (line: string) => void
}

export interface Scenario {
  name: string
  title: string
  /** One paragraph for --help and the JSON: what is measured and how. */
  description: string
  metrics: MetricSpec[]
  /** Connections the broker process must be able to hold. */
  connections(options: BenchOptions): number
  /** Rough wall time of one run against one broker, for the bench's own deadline. */
  budgetMs(options: BenchOptions): number
  /**
   * The systems it runs on, in this order in odd rounds (reversed in even ones); default: the
   * single brokers of --brokers. Rows compare ringhub with aedes unless `rows` says otherwise.
   */
  systems?: readonly SystemKind[]
  /** Ring-table rows (the ring scenarios); without it, one row per metric, ringhub against aedes. */
  rows?: readonly RowSpec[]
  /** The issue-2 scenario whose ringhub/aedes ratio a `reference: 'issue-2'` row scales. */
  issue2Scenario?: string
  run(system: SystemHandle, ctx: RunContext): Promise<Measurement>
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** CPU used between two cumulative readings, in % of one core. */
export function cpuPct(before: { cpuUserUs: number, cpuSystemUs: number, atMs: number }, after: { cpuUserUs: number, cpuSystemUs: number, atMs: number }): number {
  const usedMs = (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000
  return (usedMs / (after.atMs - before.atMs)) * 100
}
