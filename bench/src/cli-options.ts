import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BROKER_KINDS, type BrokerKind } from './ipc-protocol.js'

export interface BenchOptions {
  quick: boolean
  /** Scenario-name tokens from --only; undefined runs everything. */
  only: string[] | undefined
  brokers: BrokerKind[]
  /** Each scenario runs this many times per broker; the broker order alternates between rounds. */
  rounds: number
  /** Throughput: warm-up before the measured interval, then the interval. */
  warmupMs: number
  durationMs: number
  latencyRatePerS: number
  latencyWarmupMs: number
  latencyDurationMs: number
  idleConnections: number
  idleWorkers: number
  /** Load-generator processes per side (publishers, subscribers) in throughput scenarios. */
  workers: number
  resultsDir: string
  /** Ring scenarios: the hubs' --replication-factor (issue 4 asks for 2) and gossip profile. */
  replicationFactor: number
  ringProfile: 'lan' | 'edge'
  /** redis-server binary for the aedes+redis reference; undefined: found on PATH. */
  redisServer: string | undefined
  /** When set, every hub process runs with --cpu-prof and writes its profile here. */
  hubCpuProfDir: string | undefined
}

export const USAGE = `usage: npm run bench -- [options]

  --quick                short smoke run (1.5 s per throughput run, 2 s latency, 1,000 idle connections, 1 round)
  --only NAME[,NAME]     run only these scenarios (full names, or prefixes: qos0, qos1, fanout, latency, idle,
                         ring = every ring-of-3 scenario, ring-local = its local-path ones)
  --duration-ms N        measured interval of every timed scenario (throughput and latency), in ms
  --rounds N             runs per scenario and broker, broker order alternating (default 2, quick 1)
  --brokers A[,B]        brokers to measure: ringhub, aedes, relay (default ringhub,aedes;
                         relay = a no-op forwarder that shows the load generator's ceiling)
  --idle-connections N   idle-connection count (default 10000, quick 1000)
  --workers N            load-generator processes per side in throughput runs (default 2)
  --replication-factor N the ring hubs' --replication-factor (default 2, as issue 4 asks; 1 shows
                         what replication costs)
  --redis-server PATH    redis-server binary for the aedes+redis reference (default: found on PATH)
  --hub-cpu-prof DIR     run every hub process with node --cpu-prof, profiles written to DIR
  --help                 this text

The ring scenarios always run the ring of 3 hubs against its references (aedes+redis, the
single hub, aedes); --brokers applies to the single-broker scenarios.
`

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Parses the command line (after `npm run bench --`). */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  let values
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        'quick': { type: 'boolean', default: false },
        'only': { type: 'string' },
        'duration-ms': { type: 'string' },
        'rounds': { type: 'string' },
        'brokers': { type: 'string' },
        'idle-connections': { type: 'string' },
        'workers': { type: 'string' },
        'redis-server': { type: 'string' },
        'replication-factor': { type: 'string' },
        'hub-cpu-prof': { type: 'string' },
        'help': { type: 'boolean', default: false },
      },
    }))
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err })
  }
  if (values.help) return 'help'
  const quick = values.quick === true
  const duration = optionalInt(values['duration-ms'], '--duration-ms', 100, 600_000)
  const brokers = list(values.brokers) ?? ['ringhub', 'aedes']
  for (const b of brokers) if (!BROKER_KINDS.includes(b as BrokerKind)) throw new UsageError(`--brokers: unknown broker ${b} (one of ${BROKER_KINDS.join(', ')})`)
  return {
    quick,
    only: list(values.only),
    brokers: brokers as BrokerKind[],
    rounds: optionalInt(values.rounds, '--rounds', 1, 20) ?? (quick ? 1 : 2),
    warmupMs: quick ? 500 : 1000,
    durationMs: duration ?? (quick ? 1500 : 5000),
    latencyRatePerS: 2000,
    latencyWarmupMs: quick ? 500 : 1000,
    latencyDurationMs: duration ?? (quick ? 2000 : 10_000),
    idleConnections: optionalInt(values['idle-connections'], '--idle-connections', 1, 100_000) ?? (quick ? 1000 : 10_000),
    idleWorkers: 4,
    workers: optionalInt(values.workers, '--workers', 1, 16) ?? 2,
    resultsDir: fileURLToPath(new URL('../results/', import.meta.url)),
    replicationFactor: optionalInt(values['replication-factor'], '--replication-factor', 1, 3) ?? 2,
    ringProfile: 'lan',
    redisServer: values['redis-server'],
    hubCpuProfDir: values['hub-cpu-prof'] === undefined ? undefined : resolve(values['hub-cpu-prof']),
  }
}

function list(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new UsageError('empty list')
  return items
}

function optionalInt(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`)
  return n
}
