import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { detectionEstimate, type GossipProfile } from '../../hub/dist/membership/profiles.js'
import type { CaseResult, RingCase } from './ring-measure.js'
import type { CodeInfo, MachineInfo } from './report-json.js'
import { percentile } from './stats.js'

/** One table row: a case and the figures derived from its trials. */
export interface RingRow {
  profile: string
  n: number
  lossRate: number
  crashTrials: number
  detectFirstP50Ms: number
  detectAllP50Ms: number
  detectAllP99Ms: number
  detectAllMaxMs: number
  /** `detectionEstimate(profile, n).totalMs`, the model docs/membership.md quotes. */
  detectModelMs: number
  windowMs: number
  suspicions: number
  falseDeaths: number
  probesTcpOnly: number
  joinTrials: number
  joinP50Ms: number
  joinMaxMs: number
  /** The join's dissemination in gossip rounds (max / gossip interval). */
  joinMaxRounds: number
  packetsPerMemberPerS: number
  bytesPerMemberPerS: number
  streamBytesPerMemberPerS: number
  failures: string[]
  wallMs: number
}

export function toRow(c: RingCase, r: CaseResult): RingRow {
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
  const first = sorted(r.crashes.map((x) => x.firstMs))
  const all = sorted(r.crashes.map((x) => x.allMs))
  const joins = sorted(r.joins)
  const joinMaxMs = joins.at(-1) ?? NaN
  return {
    profile: c.profile.name, n: c.n, lossRate: c.lossRate, crashTrials: r.crashes.length,
    detectFirstP50Ms: percentile(first, 50), detectAllP50Ms: percentile(all, 50), detectAllP99Ms: percentile(all, 99),
    detectAllMaxMs: all.at(-1) ?? NaN, detectModelMs: detectionEstimate(c.profile, c.n).totalMs,
    windowMs: r.window.windowMs, suspicions: r.window.suspicions, falseDeaths: r.window.falseDeaths, probesTcpOnly: r.window.probesTcpOnly,
    joinTrials: joins.length, joinP50Ms: percentile(joins, 50), joinMaxMs, joinMaxRounds: joinMaxMs / c.profile.gossipIntervalMs,
    packetsPerMemberPerS: r.window.packetsPerMemberPerS, bytesPerMemberPerS: r.window.bytesPerMemberPerS,
    streamBytesPerMemberPerS: r.window.streamBytesPerMemberPerS, failures: r.failures, wallMs: r.wallMs,
  }
}

const COLUMNS: Array<[string, (r: RingRow) => string]> = [
  ['profile', (r) => r.profile],
  ['N', (r) => String(r.n)],
  ['loss', (r) => `${Math.round(r.lossRate * 100)}%`],
  ['crashes', (r) => String(r.crashTrials)],
  ['detect first p50', (r) => seconds(r.detectFirstP50Ms)],
  ['detect all p50', (r) => seconds(r.detectAllP50Ms)],
  ['all p99', (r) => seconds(r.detectAllP99Ms)],
  ['all max', (r) => seconds(r.detectAllMaxMs)],
  ['model', (r) => seconds(r.detectModelMs)],
  ['suspect/dead in window', (r) => `${r.suspicions}/${r.falseDeaths}`],
  ['tcp-only probes', (r) => String(r.probesTcpOnly)],
  ['join→all p50', (r) => seconds(r.joinP50Ms)],
  ['max (rounds)', (r) => `${seconds(r.joinMaxMs)} (${r.joinMaxRounds.toFixed(1)})`],
  ['pkts/member/s', (r) => r.packetsPerMemberPerS.toFixed(1)],
  ['B/member/s', (r) => Math.round(r.bytesPerMemberPerS).toString()],
  ['of which TCP', (r) => Math.round(r.streamBytesPerMemberPerS).toString()],
  ['wall', (r) => seconds(r.wallMs)],
]

function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—'
}

export function renderTable(rows: readonly RingRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))]
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => (line[i] as string).length)))
  const line = (values: string[]): string => '| ' + values.map((v, i) => (i < 3 ? v.padEnd(widths[i] as number) : v.padStart(widths[i] as number))).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => (i < 3 ? '-'.repeat(w + 1) + '-' : '-'.repeat(w + 1) + ':')).join('|') + '|'
  return [line(cells[0] as string[]), rule, ...cells.slice(1).map(line)].join('\n')
}

/** The issue's goals (issue 3, "Goals for the benchmark"), each with its verdict. */
export function renderGoals(rows: readonly RingRow[], profiles: Readonly<Record<string, GossipProfile>>): string {
  const out: string[] = []
  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : 'MISSED')
  const worst = (rs: RingRow[], f: (r: RingRow) => number): number | undefined => (rs.length === 0 ? undefined : Math.max(...rs.map(f)))
  const edgeSmall = rows.filter((r) => r.profile === 'edge' && r.n <= 10)
  const edgeWorst = worst(edgeSmall, (r) => r.detectAllP99Ms)
  out.push(`- detection p99 ≤ 2 s with edge (N ≤ 10): ${edgeWorst === undefined ? verdict(undefined) : `worst ${seconds(edgeWorst)}: ${verdict(edgeWorst <= 2_000)}`}`)
  const lanSmall = rows.filter((r) => r.profile === 'lan' && r.n <= 10)
  const lanWorst = worst(lanSmall, (r) => r.detectAllP99Ms)
  out.push(`- detection p99 ≤ 6 s with lan (N ≤ 10): ${lanWorst === undefined ? verdict(undefined) : `worst ${seconds(lanWorst)}: ${verdict(lanWorst <= 6_000)}`}` +
    ' (memberlist\'s LAN timing: the crashed member waits for its turn in the others\' shuffled probe rounds, and the' +
    ` ${profiles.lan ? seconds(detectionEstimate(profiles.lan, 10).suspicionMs) : 'minimum'} suspicion needs two confirmations from those rounds;` +
    ` beyond 10 members the minimum suspicion grows with log N)`)
  const lossy = rows.filter((r) => r.lossRate > 0)
  // A false positive is a healthy member declared dead (SWIM §1, Lifeguard §2); a suspicion
  // that its member refutes is the protocol at work, reported beside it.
  const fp = worst(lossy, (r) => r.falseDeaths)
  out.push(`- zero false positives at 10% loss: ${fp === undefined ? verdict(undefined) : `${lossy.reduce((s, r) => s + r.falseDeaths, 0)} healthy members declared dead: ${verdict(fp === 0)}`}` +
    ` (${lossy.reduce((s, r) => s + r.suspicions, 0)} suspect transitions over all views, none ending in a death;` +
    ` ${lossy.reduce((s, r) => s + r.probesTcpOnly, 0)} probes lost over UDP were answered by the TCP fallback ping; TCP loses nothing but waits out retransmission timeouts)`)
  const big = rows.filter((r) => r.profile === 'lan' && r.n === 1000)
  const joinWorst = worst(big, (r) => r.joinMaxMs)
  out.push(`- a join reaches all of N = 1000 in ≤ 2 s (lan, 200 ms gossip): ${joinWorst === undefined ? verdict(undefined) : `worst ${seconds(joinWorst)}: ${verdict(joinWorst <= 2_000)}`}`)
  return out.join('\n')
}

export interface RingResultFile {
  schema: 1
  startedAt: string
  finishedAt: string
  argv: string[]
  machine: MachineInfo
  code: CodeInfo
  cases: Array<Omit<RingCase, 'profile'> & { profile: GossipProfile }>
  rows: RingRow[]
  /** Every trial's raw figures, per case (same order as `cases`). */
  trials: Array<{ crashes: CaseResult['crashes'], joins: number[], window: CaseResult['window'] }>
}

/** Writes `<dir>/ring-<timestamp>.json`; returns its path. */
export function writeRingResults(dir: string, result: RingResultFile): string {
  mkdirSync(dir, { recursive: true })
  // NaN (no value) is not JSON; null is.
  const text = JSON.stringify(result, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2) + '\n'
  const path = join(dir, `ring-${result.startedAt.replace(/[:.]/g, '-')}.json`)
  writeFileSync(path, text)
  return path
}
