import { describe, expect, it } from 'vitest'
import type { RunRecord } from '../../bench/src/bench-runner.js'
import { parseProcStat } from '../../bench/src/proc-stat.js'
import { hubCounters, parseSamples } from '../../bench/src/prom-text.js'
import { buildRows, issue2Estimate, issue2Ratios } from '../../bench/src/report-model.js'
import { frameCost } from '../../bench/src/ring-frames.js'
import type { Scenario } from '../../bench/src/scenario.js'
import type { SystemKind } from '../../bench/src/system-handle.js'

// The pure parts of the ring benchmark: reading the hubs' /metrics and /proc, the frame cost of
// a fan-out, and the ring table's rows (ratios, the issue-2 estimate, verdicts).

describe('parseSamples', () => {
  it.each([
    ['a plain sample', 'up 1', 'up', 1],
    ['labels', 'ringhub_router_events_total{event="forwarded"} 42', 'ringhub_router_events_total{event="forwarded"}', 42],
    ['a label value with a space', 'x{reason="no hello"} 3', 'x{reason="no hello"}', 3],
    ['a timestamp after the value', 'y{a="b"} 7 1700000000000', 'y{a="b"}', 7],
    ['a float', 'z 0.25', 'z', 0.25],
  ])('reads %s', (_what, line, series, value) => {
    expect(parseSamples(`# HELP x y\n# TYPE x counter\n${line}\n\n`).get(series)).toBe(value)
  })

  it('skips comments, blank lines and values that are not numbers', () => {
    expect([...parseSamples('# HELP a b\n\nbad{x="1"} notanumber\n').keys()]).toEqual([])
  })

  it('picks the router and link counters, 0 for a series not exported yet', () => {
    const text = [
      'ringhub_router_events_total{event="sequenced"} 10',
      'ringhub_router_events_total{event="deliveriesSent"} 20',
      'ringhub_interhub_frames_total{direction="out"} 61',
      'ringhub_interhub_frames_total{direction="in"} 40',
    ].join('\n')
    expect(hubCounters(text)).toMatchObject({ sequenced: 10, deliveriesSent: 20, framesOut: 61, framesIn: 40, forwarded: 0 })
  })
})

describe('parseProcStat', () => {
  const line = (comm: string): string => `1234 (${comm}) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 123456789 2048 18446744073709551615`
  it.each([['redis-server'], ['a (weird) name'], ['x) y']])('reads utime, stime and rss of a command named %j', (comm) => {
    expect(parseProcStat(line(comm), 100, 4096)).toEqual({ cpuUserUs: 2_500_000, cpuSystemUs: 500_000, rssBytes: 2048 * 4096 })
  })

  it('refuses a line that is not a stat line', () => {
    expect(() => parseProcStat('nonsense', 100, 4096)).toThrow(/stat/)
  })
})

describe('frameCost', () => {
  const counters = (sequenced: number, deliveriesSent: number, framesOut: number, deliveriesReceived = 0): Record<string, number> => ({ sequenced, deliveriesSent, framesOut, deliveriesReceived })
  const before = { a: counters(0, 0, 5), b: counters(0, 0, 7), c: counters(0, 0, 1) }

  it.each([
    // label, b's deliveries, interested hubs (subscribers' hubs), expected frames per message and hub
    ['one frame per interested hub', 200, ['a', 'b', 'c'], 1],
    ['a frame per subscriber (3 per hub) would show as 3', 600, ['a', 'b', 'c'], 3],
    ['subscribers on one other hub', 100, ['c'], 1],
  ])('%s', (_label, sent, subscriberHubs, perHub) => {
    const after = { a: counters(0, 0, 205, 100), b: counters(100, sent, 507), c: counters(0, 0, 101, 100) }
    const cost = frameCost(before, after, 'b', subscriberHubs)
    expect(cost.sequenced).toBe(100)
    expect(cost.deliverFramesPerHub).toBe(perHub)
    expect(cost.interestedHubs).toBe(subscriberHubs.filter((h) => h !== 'b').length)
    expect(cost.linkFramesPerMsg).toBe((200 + 500 + 100) / 100)
    expect(cost.receivedPerMsg).toEqual({ a: 1, b: 0, c: 1 })
  })

  it('has no deliver cost when every subscriber is on the owner (the local path)', () => {
    const after = { a: counters(0, 0, 105), b: counters(100, 0, 107), c: counters(0, 0, 1) }
    expect(frameCost(before, after, 'b', ['b']).deliverFramesPerHub).toBeNaN()
  })
})

describe('ring table rows', () => {
  const metric = { key: 'msgsPerS', label: 'msgs/s', unit: 'msg/s', better: 'higher' as const, digits: 0 }
  const scenario: Scenario = {
    name: 'ring-local-qos1-1to1', title: '', description: '', metrics: [metric],
    connections: () => 2, budgetMs: () => 0, run: () => Promise.reject(new Error('not run')),
    systems: ['ring', 'ringhub', 'aedes'],
    issue2Scenario: 'qos1-1to1',
    rows: [
      { metric: 'msgsPerS', subject: 'ring', reference: 'ringhub', target: { kind: 'min-ratio', value: 0.9 } },
      { metric: 'msgsPerS', subject: 'ring', reference: 'issue-2', target: { kind: 'min-ratio', value: 0.9 } },
    ],
  }
  const record = (broker: SystemKind, round: number, msgsPerS: number | undefined): RunRecord => ({
    scenario: scenario.name, broker, round, position: 0, startedAt: '', wallMs: 0,
    ...(msgsPerS === undefined ? { error: 'crashed' } : { measurement: { metrics: { msgsPerS }, details: {}, warnings: [] } }),
  })
  const issue2 = issue2Ratios({ rows: [{ scenario: 'qos1-1to1', metric: { key: 'msgsPerS' }, ratio: { mean: 1.5 } }, { scenario: 'x', metric: { key: 'y' }, ratio: { mean: null } }] })

  it('reads the issue-2 ratios, skipping rows without one', () => {
    expect([...issue2]).toEqual([['qos1-1to1/msgsPerS', 1.5]])
  })

  it('estimates issue 2\'s hub as this run\'s aedes × its ratio, round by round', () => {
    expect(issue2Estimate({ mean: 15, perRound: [10, 20] }, 1.5, 2)).toEqual({ mean: 22.5, perRound: [15, 30] })
    expect(issue2Estimate(undefined, 1.5, 2)).toBeUndefined()
    expect(issue2Estimate({ mean: 15, perRound: [10, 20] }, undefined, 2)?.mean).toBeNaN()
  })

  it.each([
    // ring, single hub, aedes per round → status vs single hub, status vs issue 2
    ['both met', [95, 95], [100, 100], [60, 60], 'pass', 'pass'],
    ['met on the mean only', [100, 85], [100, 100], [60, 60], 'pass*', 'pass'],
    ['single hub met, issue 2 missed', [95, 95], [100, 100], [80, 80], 'pass', 'fail'],
  ])('%s', (_label, ring, single, aedes, vsSingle, vsIssue2) => {
    const records = [1, 2].flatMap((round) => [
      record('ring', round, ring[round - 1]), record('ringhub', round, single[round - 1]), record('aedes', round, aedes[round - 1]),
    ])
    const rows = buildRows([scenario], records, (s) => s.systems ?? [], 2, issue2)
    expect(rows.map((r) => [r.section, r.reference, r.status])).toEqual([['ring', 'ringhub', vsSingle], ['ring', 'issue-2', vsIssue2]])
    expect(rows[1]?.brokers['issue-2']?.perRound).toEqual(aedes.map((v) => v * 1.5))
  })

  it('shows a failed run as an error, not as a verdict', () => {
    const records = [record('ring', 1, undefined), record('ringhub', 1, 100), record('aedes', 1, 60)]
    const [row] = buildRows([scenario], records, (s) => s.systems ?? [], 1, issue2)
    expect(row?.status).toBe('error')
  })

  it('leaves out a system that does not report a metric (a ring-only counter)', () => {
    const framed: Scenario = {
      ...scenario, name: 'ring-fanout', systems: ['ring', 'aedes-redis'],
      metrics: [{ key: 'deliverFramesPerHub', label: 'frames', unit: 'frames', better: 'lower', digits: 2 }],
      rows: [{ metric: 'deliverFramesPerHub', subject: 'ring', reference: 'aedes-redis', target: { kind: 'max', value: 1 } }],
    }
    const records: RunRecord[] = [
      { scenario: 'ring-fanout', broker: 'ring', round: 1, position: 0, startedAt: '', wallMs: 0, measurement: { metrics: { deliverFramesPerHub: 1 }, details: {}, warnings: [] } },
      { scenario: 'ring-fanout', broker: 'aedes-redis', round: 1, position: 1, startedAt: '', wallMs: 0, measurement: { metrics: {}, details: {}, warnings: [] } },
    ]
    const [row] = buildRows([framed], records, (s) => s.systems ?? [], 1, new Map())
    expect(row?.brokers['aedes-redis']).toBeUndefined()
    expect(row?.ratio).toBeUndefined()
    expect(row?.status).toBe('pass')
  })
})
