/**
 * `npm run bench`: ringhub against plain aedes, side by side in one run. Prints a table with
 * ratios and target verdicts and writes bench/results/<timestamp>.json and latest.json.
 * Exit code 0 even when a target is missed (this is a measurement); 1 when a run failed
 * outright, 2 on bad usage or when the bench overran its own deadline.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runSuite, suiteBudgetMs, systemsOf } from './bench-runner.js'
import { ChildRegistry } from './child-spawn.js'
import { USAGE, UsageError, parseBenchArgs } from './cli-options.js'
import { findRedisServer, redisMissing } from './redis-server.js'
import { buildCpuRows, buildRows, issue2Ratios, type Issue2Ratios } from './report-model.js'
import { codeInfo, machineInfo, writeResults, RESULT_SCHEMA } from './report-json.js'
import { renderReport } from './report-table.js'
import type { RunContext } from './scenario.js'
import { selectScenarios } from './scenarios.js'

/** The issue-2 figures (committed), for the local path of the ring. */
const ISSUE2_REFERENCE = 'reference-issue-2.json'
/** Slack on top of the suite's estimated time before the watchdog ends the bench. */
const WATCHDOG_SLACK_MS = 120_000

async function main(argv: string[]): Promise<number> {
  const parsed = parseBenchArgs(argv)
  if (parsed === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  const options = parsed
  const scenarios = selectScenarios(options.only)
  const registry = new ChildRegistry()
  const log = (line: string): void => { process.stderr.write(line + '\n') }
  const ctx: RunContext = { options, registry, output: log }
  // Fail before anything runs rather than after minutes of measurements without their reference.
  if (scenarios.some((s) => systemsOf(s, ctx).some((k) => k === 'aedes-redis' || k === 'aedes-cluster')) && !findRedisServer(options.redisServer)) {
    throw new Error(redisMissing(options.redisServer))
  }

  // Whatever happens, no child outlives the bench.
  process.on('exit', () => registry.killAll())
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      registry.killAll()
      process.exit(130)
    })
  }
  const budgetMs = suiteBudgetMs(scenarios, ctx) + WATCHDOG_SLACK_MS
  const watchdog = setTimeout(() => {
    log(`bench: still running after ${Math.round(budgetMs / 1000)} s, giving up`)
    registry.killAll()
    process.exit(2)
  }, budgetMs)
  watchdog.unref()

  const machine = machineInfo()
  const startedAt = new Date().toISOString()
  log(`bench: ${scenarios.map((s) => `${s.name} (${systemsOf(s, ctx).join(', ')})`).join(', ')}, ${options.rounds} round(s); ` +
    `${machine.cpus} CPUs, load average ${machine.loadAvgAtStart.join(' ')}`)
  const records = await runSuite(scenarios, ctx, log)
  machine.loadAvgAtEnd = machineInfo().loadAvgAtStart

  const issue2 = loadIssue2(options.resultsDir, scenarios.some((s) => s.issue2Scenario !== undefined), log)
  const rows = buildRows(scenarios, records, (s) => systemsOf(s, ctx), options.rounds, issue2)
  const cpu = buildCpuRows(scenarios, records, (s) => systemsOf(s, ctx))
  process.stdout.write('\n' + renderReport(rows, cpu, records, options.brokers, options.rounds, machine.cpus, options.replicationFactor) + '\n')
  const path = writeResults(options.resultsDir, {
    schema: RESULT_SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    argv,
    options,
    machine,
    code: codeInfo(),
    scenarios: scenarios.map(({ name, title, description, metrics }) => ({ name, title, description, metrics })),
    rows,
    cpu,
    runs: records,
  })
  process.stdout.write(`\nResults: ${path} (also latest.json). Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ` +
    `load average ${machine.loadAvgAtStart.join('/')} → ${machine.loadAvgAtEnd.join('/')}; shared machine, compare ratios within one run.\n`)
  clearTimeout(watchdog)
  if (registry.running > 0) log(`bench: ${registry.running} child process(es) still running; killing them`)
  return records.some((r) => r.error !== undefined) ? 1 : 0
}

/** Issue 2's ringhub/aedes ratios, for the local path's `issue-2` rows (empty, with a note, when the file is missing). */
function loadIssue2(dir: string, needed: boolean, log: (line: string) => void): Issue2Ratios {
  if (!needed) return new Map()
  const path = join(dir, ISSUE2_REFERENCE)
  try {
    return issue2Ratios(JSON.parse(readFileSync(path, 'utf8')) as Parameters<typeof issue2Ratios>[0])
  } catch (err) {
    log(`bench: cannot read ${path} (${(err as Error).message}); the issue-2 rows show errors`)
    return new Map()
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
    if (err instanceof UsageError) process.stderr.write(USAGE)
    process.exitCode = 2
  },
)
