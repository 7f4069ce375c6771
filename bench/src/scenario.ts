import type { BrokerHandle } from './broker-handle.js'
import type { ChildRegistry } from './child-spawn.js'
import type { BenchOptions } from './cli-options.js'

/**
 * What a target asks of ringhub: at least `value` times aedes' figure (`min-ratio`), or an
 * absolute ceiling on ringhub's own figure (`max`).
 */
export type Target =
  | { kind: 'min-ratio', value: number }
  | { kind: 'max', value: number }

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
  run(broker: BrokerHandle, ctx: RunContext): Promise<Measurement>
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** CPU used between two cumulative readings, in % of one core. */
export function cpuPct(before: { cpuUserUs: number, cpuSystemUs: number, atMs: number }, after: { cpuUserUs: number, cpuSystemUs: number, atMs: number }): number {
  const usedMs = (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000
  return (usedMs / (after.atMs - before.atMs)) * 100
}
