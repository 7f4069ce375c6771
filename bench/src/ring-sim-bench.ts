/**
 * `npm run bench:ring`: the SWIM engine in the deterministic simulator (virtual time, in-memory
 * network, seeded). For each profile, ring size and loss rate: failure detection of a crash (the
 * first member, and every member), false positives over a quiet window, dissemination of a join
 * to every member, and datagrams and bytes each member sends per second. Prints a table and the
 * issue's goals, writes bench/results/ring-<timestamp>.json. Exit code 0 even when a goal is
 * missed (a measurement); 1 when a trial did not finish; 2 on bad usage.
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { PROFILES, type ProfileName } from '../../hub/dist/membership/profiles.js'
import { runCase, type CaseResult, type RingCase } from './ring-measure.js'
import { renderGoals, renderTable, toRow, writeRingResults, type RingRow } from './ring-report.js'
import { codeInfo, machineInfo } from './report-json.js'

const USAGE = `usage: node bench/dist/ring-sim-bench.js [options]

  --quick              fewer trials, shorter window (about 20 s)
  --sizes N[,N]        ring sizes (default 3,10,100,1000)
  --profiles P[,P]     lan, edge (default both; edge only up to N = ${100}, see below)
  --window-ms MS       quiet window for traffic and false positives (default 120000, quick 30000)
  --seed S             base seed (default 1); every trial's seed is printed in failures and JSON
  --help               this text

edge is tuned for rings of up to ~10 hubs (5 probes per member per second); it is measured up to
N = 100 and not at 1000.
`

const EDGE_MAX_N = 100
const LOSS_RATES = [0, 0.1]

/** Crash trials per ring size (each a fresh ring); joins measured on the first few of them. */
function trialsFor(n: number, quick: boolean): { crashTrials: number, joinTrials: number } {
  const crashTrials = n <= 10 ? (quick ? 10 : 50) : n <= 100 ? (quick ? 3 : 10) : (quick ? 1 : 3)
  return { crashTrials, joinTrials: Math.min(crashTrials, n <= 100 ? 10 : 3) }
}

interface Options { quick: boolean, sizes: number[], profiles: ProfileName[], windowMs: number, seed: number }

function parse(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'quick': { type: 'boolean', default: false },
      'sizes': { type: 'string', default: '3,10,100,1000' },
      'profiles': { type: 'string', default: 'lan,edge' },
      'window-ms': { type: 'string' },
      'seed': { type: 'string', default: '1' },
      'help': { type: 'boolean', default: false },
    },
  })
  if (values.help) return 'help'
  const ints = (s: string, what: string): number[] => s.split(',').map((x) => {
    const v = Number(x)
    if (!Number.isInteger(v) || v < 2) throw new Error(`${what}: ${x} is not an integer ≥ 2`)
    return v
  })
  const profiles = values.profiles.split(',').map((p) => {
    if (!(p in PROFILES)) throw new Error(`--profiles: unknown profile ${p}`)
    return p as ProfileName
  })
  const quick = values.quick
  const windowMs = Number(values['window-ms'] ?? (quick ? 30_000 : 120_000))
  const seed = Number(values.seed)
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new Error('--window-ms: expected a positive number')
  if (!Number.isInteger(seed)) throw new Error('--seed: expected an integer')
  return { quick, sizes: ints(values.sizes, '--sizes'), profiles, windowMs, seed }
}

function casesOf(o: Options): RingCase[] {
  const cases: RingCase[] = []
  for (const name of o.profiles) {
    for (const n of o.sizes) {
      if (name === 'edge' && n > EDGE_MAX_N) continue
      for (const lossRate of LOSS_RATES) {
        cases.push({ profile: PROFILES[name], n, lossRate, windowMs: o.windowMs, seed: o.seed * 1_000_003 + cases.length, ...trialsFor(n, o.quick) })
      }
    }
  }
  return cases
}

async function main(argv: string[]): Promise<number> {
  let options: Options | 'help'
  try {
    options = parse(argv)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (options === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  const log = (line: string): void => { process.stderr.write(line + '\n') }
  const machine = machineInfo()
  const startedAt = new Date().toISOString()
  const cases = casesOf(options)
  log(`bench:ring: ${cases.length} cases (${options.profiles.join(', ')}; N = ${options.sizes.join(', ')}; loss 0 and 10%), ` +
    `window ${options.windowMs / 1000} s, seed ${options.seed}; ${machine.cpus} CPUs, load average ${machine.loadAvgAtStart.join(' ')}`)

  const rows: RingRow[] = []
  const results: CaseResult[] = []
  for (const c of cases) {
    const result = await runCase(c)
    const row = toRow(c, result)
    results.push(result)
    rows.push(row)
    log(`  ${c.profile.name} N=${c.n} loss ${c.lossRate * 100}%: ${result.crashes.length} crashes, ${result.joins.length} joins, ` +
      `wall ${(result.wallMs / 1000).toFixed(1)} s${result.failures.length > 0 ? `; FAILED: ${result.failures.join('; ')}` : ''}`)
  }

  process.stdout.write('\n' + renderTable(rows) + '\n\n' + renderGoals(rows, PROFILES) + '\n')
  const path = writeRingResults(fileURLToPath(new URL('../results/', import.meta.url)), {
    schema: 1, startedAt, finishedAt: new Date().toISOString(), argv, machine: { ...machine, loadAvgAtEnd: machineInfo().loadAvgAtStart },
    code: codeInfo(), cases, rows,
    trials: results.map((r) => ({ crashes: r.crashes, joins: r.joins, window: r.window })),
  })
  log(`\nresults: ${path}`)
  return rows.some((r) => r.failures.length > 0) ? 1 : 0
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`bench:ring failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
