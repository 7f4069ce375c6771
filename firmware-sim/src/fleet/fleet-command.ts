import { writeFileSync } from 'node:fs'
import { pino } from 'pino'
import { systemClock } from '../../../device-agent/dist/base/system-clock.js'
import { randomSeed } from '../../../device-agent/dist/base/rng.js'
import { ConfigError } from '../../../device-agent/dist/base/errors.js'
import { flagHelp, parseFlags, type FlagSpec } from '../flags.js'
import { runFleet, type FleetStats, type FleetSummary } from './fleet.js'
import { SCENARIOS, type HubControl, type ScenarioName } from './scenarios.js'

const SPECS: FlagSpec[] = [
  { flag: '--devices', kind: 'int', doc: 'number of simulated devices (up to 10000 here)', default: '100' },
  { flag: '--hubs', kind: 'string', doc: 'hub URLs, comma-separated; devices spread over them', default: 'mqtt://127.0.0.1:1883' },
  { flag: '--interval-ms', kind: 'int', doc: 'telemetry period of each device, ms', default: '1000' },
  { flag: '--qos', kind: 'int', doc: '0 or 1', default: '1' },
  { flag: '--duration-ms', kind: 'int', doc: 'how long telemetry runs once the fleet is up, ms', default: '30000' },
  { flag: '--scenario', kind: 'string', doc: SCENARIOS.join(' | '), default: 'steady' },
  { flag: '--seed', kind: 'int', doc: 'seed of every random choice', default: 'random, printed' },
  { flag: '--connect-rate', kind: 'int', doc: 'new connections per second while ramping up', default: '1000' },
  { flag: '--clean', kind: 'bool', doc: 'clean sessions instead of persistent ones' },
  { flag: '--prefix', kind: 'string', doc: 'device names <prefix>-0001 …', default: 'sim' },
  { flag: '--password', kind: 'string', doc: 'password of every device (user = device name); env RINGHUB_SIM_PASSWORD', default: 'anonymous' },
  { flag: '--observer-username', kind: 'string', doc: 'operator account of the end-to-end observer', default: 'anonymous' },
  { flag: '--observer-password', kind: 'string', doc: 'its password; env RINGHUB_SIM_OBSERVER_PASSWORD', default: 'none' },
  { flag: '--command-interval-ms', kind: 'int', doc: 'send a ping command to a random device this often (0 = never)', default: '0' },
  { flag: '--burst-every-ms', kind: 'int', doc: 'burst: period', default: '5000' },
  { flag: '--burst-size', kind: 'int', doc: 'burst: messages per chosen device', default: '20' },
  { flag: '--churn-every-ms', kind: 'int', doc: 'churn: period', default: '2000' },
  { flag: '--kill-at-ms', kind: 'int', doc: 'hub-kill: when, after telemetry starts', default: 'a third of --duration-ms' },
  { flag: '--kill-hub', kind: 'int', doc: 'hub-kill: index in --hubs', default: 'seeded' },
  { flag: '--hub-pids', kind: 'string', doc: 'hub-kill: process ids of the hubs, in --hubs order (SIGKILL)', default: 'none' },
  { flag: '--drain-timeout-ms', kind: 'int', doc: 'wait this long for acks and deliveries at the end', default: '15000' },
  { flag: '--stats-interval-ms', kind: 'int', doc: 'live stats line on stderr (0 = none)', default: '1000' },
  { flag: '--json', kind: 'string', doc: 'also write the summary as JSON to this file (- = stdout)', default: 'none' },
  { flag: '--log-level', kind: 'string', doc: 'log level of the (JSON, stderr) log', default: 'warn' },
]

export const FLEET_USAGE = flagHelp(`Usage: ringhub sim fleet --devices N --hubs URL,... [options]

N simulated MQTT devices with telemetry, commands, reconnect/backoff across the hubs, persistent
sessions and a seeded scenario; live stats on stderr and a summary counting lost and duplicated
messages end to end (docs/simulator.md).`, SPECS)

function pidControl(pids: number[]): HubControl {
  return {
    kill: async (index) => {
      const pid = pids[index]
      if (pid === undefined) throw new ConfigError('--hub-pids', `no pid for hub ${index}`)
      process.kill(pid, 'SIGKILL')
    },
  }
}

export function formatStats(s: FleetStats): string {
  return `[sim] t=${(s.tMs / 1000).toFixed(1)}s connected=${s.connected}/${s.devices} sent/s=${s.sentPerS} received/s=${s.receivedPerS} reconnects=${s.reconnects} unacked=${s.unacked}`
}

export function formatSummary(s: FleetSummary): string {
  return [
    `scenario ${s.scenario}, seed ${s.seed}, ${s.devices} devices, QoS ${s.qos}, every ${s.intervalMs} ms, ${s.durationMs} ms`,
    `connected: all within ${s.connectMs ?? 'never'} ms; ${s.connectedAtEnd} at the end (${Object.entries(s.perHub).map(([h, n]) => `${h}: ${n}`).join(', ')})`,
    `messages: produced ${s.produced}, acked ${s.acked}, received ${s.received} (${s.receivedPerS}/s), lost ${s.lost}, duplicates ${s.duplicates}, unconfirmed ${s.unconfirmed}, given up ${s.givenUp}`,
    `reconnects ${s.reconnects}; latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, max ${s.latencyMs.max} ms; commands ${s.commands.answered}/${s.commands.sent} answered`,
  ].join('\n') + '\n'
}

/** `ringhub sim fleet`: exit code 0 when every device was connected at the end and nothing acknowledged was lost, 1 otherwise. */
export async function runFleetSim(argv: readonly string[]): Promise<number> {
  const f = parseFlags(argv, SPECS, 'sim fleet')
  const num = (name: string, def: number): number => (f.get(name) as number | undefined) ?? def
  const hubs = String(f.get('hubs') ?? 'mqtt://127.0.0.1:1883').split(',').map((h) => h.trim()).filter(Boolean)
  if (hubs.length === 0) throw new ConfigError('--hubs', 'lists no hub')
  const scenario = String(f.get('scenario') ?? 'steady') as ScenarioName
  if (!SCENARIOS.includes(scenario)) throw new ConfigError('--scenario', `one of ${SCENARIOS.join(', ')}`)
  const qos = num('qos', 1)
  if (qos !== 0 && qos !== 1) throw new ConfigError('--qos', '0 or 1')
  const devices = num('devices', 100)
  if (devices < 1 || devices > 100_000) throw new ConfigError('--devices', '1..100000')
  const pids = typeof f.get('hub-pids') === 'string' ? String(f.get('hub-pids')).split(',').map(Number) : undefined
  if (scenario === 'hub-kill' && !pids) throw new ConfigError('--hub-pids', 'scenario hub-kill needs the hubs\' process ids')
  const durationMs = num('duration-ms', 30_000)
  const seed = num('seed', randomSeed())
  const password = (f.get('password') as string | undefined) ?? process.env.RINGHUB_SIM_PASSWORD
  const observerUsername = f.get('observer-username') as string | undefined
  const observerPassword = (f.get('observer-password') as string | undefined) ?? process.env.RINGHUB_SIM_OBSERVER_PASSWORD
  const killHub = f.get('kill-hub') as number | undefined
  process.stderr.write(`[sim] fleet: ${devices} devices, scenario ${scenario}, seed ${seed} (--seed ${seed} replays it)\n`)
  const summary = await runFleet({
    devices, hubs, intervalMs: Math.max(1, num('interval-ms', 1000)), qos, durationMs, scenario, seed,
    scenarioOptions: {
      burstEveryMs: num('burst-every-ms', 5000), burstSize: num('burst-size', 20), burstFraction: 0.1,
      churnEveryMs: num('churn-every-ms', 2000), churnFraction: 0.05,
      killAtMs: num('kill-at-ms', Math.round(durationMs / 3)), killHub, restartAfterMs: undefined,
    },
    connectRatePerS: Math.max(1, num('connect-rate', 1000)), persistent: f.get('clean') !== true, prefix: String(f.get('prefix') ?? 'sim'),
    ...(password !== undefined ? { password } : {}),
    ...(observerUsername !== undefined ? { observerUsername } : {}),
    ...(observerPassword !== undefined ? { observerPassword } : {}),
    statsIntervalMs: num('stats-interval-ms', 1000), drainTimeoutMs: num('drain-timeout-ms', 15_000),
    commandIntervalMs: num('command-interval-ms', 0), maxUnacked: 10_000,
    ...(pids ? { hubControl: pidControl(pids) } : {}),
    clock: systemClock,
    log: pino({ level: String(f.get('log-level') ?? 'warn'), base: { part: 'sim' } }, pino.destination(2)),
    onStats: (s) => process.stderr.write(formatStats(s) + '\n'),
  })
  process.stderr.write(formatSummary(summary))
  const json = f.get('json')
  if (json === '-') process.stdout.write(JSON.stringify(summary) + '\n')
  else if (typeof json === 'string') writeFileSync(json, JSON.stringify(summary, null, 2) + '\n')
  return summary.lost === 0 && summary.connectedAtEnd === summary.devices ? 0 : 1
}
