import { describe, expect, it } from 'vitest'
import type { TopicMessage } from '../../hub/src/contract/admin-api.js'
import { csvField, exportFileName, toCsv, toJsonLines } from '../../ui/src/renderer/logic/history-export.js'
import { jsonDiff, lineDiff, parseJson, prettyPayload } from '../../ui/src/renderer/logic/json-diff.js'
import { numericFields } from '../../ui/src/renderer/logic/numeric-fields.js'
import { SeriesSet, STATS_POLL_OVERLAP_MS, STATS_POLL_SKEW_MS, pollAnchorMs, statsPollSinceMs } from '../../ui/src/renderer/logic/series.js'

describe('message diff', () => {
  it('reports changed, added and removed leaves by path', () => {
    const before = { n: 1, unit: 'C', nested: { a: [1, 2, 3], gone: true } }
    const after = { n: 2, unit: 'C', nested: { a: [1, 5], added: null } }
    expect(jsonDiff(before, after)).toEqual([
      { kind: 'changed', path: 'n', before: 1, after: 2 },
      { kind: 'changed', path: 'nested.a[1]', before: 2, after: 5 },
      { kind: 'removed', path: 'nested.a[2]', before: 3 },
      { kind: 'removed', path: 'nested.gone', before: true },
      { kind: 'added', path: 'nested.added', after: null },
    ])
  })

  it.each([
    [1, 1, []],
    [1, '1', [{ kind: 'changed', path: '(value)', before: 1, after: '1' }]],
    [[1], { 0: 1 }, [{ kind: 'changed', path: '(value)', before: [1], after: { 0: 1 } }]],
    [{ a: { b: 1 } }, { a: 5 }, [{ kind: 'changed', path: 'a', before: { b: 1 }, after: 5 }]],
    [{ __proto__: 1 }, {}, []],
  ])('diffs %j → %j', (a, b, expected) => {
    expect(jsonDiff(a, b)).toEqual(expected)
  })

  it('treats only JSON as JSON, and pretty-prints it', () => {
    expect(parseJson('{"a":1}')).toEqual({ value: { a: 1 } })
    expect(parseJson('21.5')).toEqual({ value: 21.5 })
    expect(parseJson('on')).toBeUndefined()
    expect(parseJson('')).toBeUndefined()
    expect(parseJson('{broken')).toBeUndefined()
    expect(prettyPayload('{"a":[1]}')).toBe('{\n  "a": [\n    1\n  ]\n}')
    expect(prettyPayload('plain text')).toBe('plain text')
  })

  it('diffs text by lines', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc')).toEqual([
      { op: 'same', line: 'a' }, { op: 'del', line: 'b' }, { op: 'add', line: 'x' }, { op: 'same', line: 'c' },
    ])
    expect(lineDiff('', 'new')).toEqual([{ op: 'del', line: '' }, { op: 'add', line: 'new' }])
  })
})

describe('history export', () => {
  const msgs: TopicMessage[] = [
    { topic: 'devices/d1/t', epoch: 2, seq: 7, tsMs: Date.UTC(2026, 10, 24, 1, 2, 3), qos: 1, retain: false, payload: '{"a":1,"b":"x,y"}', encoding: 'utf8' },
    { topic: 'devices/d1/t', epoch: 2, seq: 8, tsMs: Date.UTC(2026, 10, 24, 1, 2, 4), qos: 0, retain: true, payload: 'line1\nline2 "q"', encoding: 'utf8' },
  ]

  it('writes JSON lines that parse back to the messages', () => {
    const text = toJsonLines(msgs)
    expect(text.endsWith('\n')).toBe(true)
    expect(text.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(msgs)
    expect(toJsonLines([])).toBe('')
  })

  it('writes RFC 4180 CSV with quoted fields', () => {
    expect(toCsv(msgs).split('\r\n')).toEqual([
      'time,tsMs,topic,epoch,seq,qos,retain,encoding,payload',
      `2026-11-24T01:02:03.000Z,${msgs[0]?.tsMs},devices/d1/t,2,7,1,false,utf8,"{""a"":1,""b"":""x,y""}"`,
      `2026-11-24T01:02:04.000Z,${msgs[1]?.tsMs},devices/d1/t,2,8,0,true,utf8,"line1\nline2 ""q"""`,
      '',
    ])
  })

  it.each([
    ['=HYPERLINK("x")', '"\'=HYPERLINK(""x"")"'],
    ['+1+1', "'+1+1"],
    ['-12.5', '-12.5'],
    ['@cmd', "'@cmd"],
    ['plain', 'plain'],
  ])('keeps spreadsheets from running %j as a formula', (payload, field) => {
    expect(csvField(payload)).toBe(field)
  })

  it('names the file after the topic', () => {
    expect(exportFileName('devices/d1/telemetry', 'csv')).toBe('devices_d1_telemetry.csv')
    expect(exportFileName('../../etc/x', 'jsonl')).toBe('.._.._etc_x.jsonl')
    expect(exportFileName('', 'csv')).toBe('topic.csv')
  })
})

describe('numeric fields and series', () => {
  it('finds number leaves by path', () => {
    expect([...numericFields('{"t":21.5,"s":"x","a":[1,{"b":2}],"ok":true}')]).toEqual([['t', 21.5], ['a[0]', 1], ['a[1].b', 2]])
    expect([...numericFields('42')]).toEqual([['(value)', 42]])
    expect(numericFields('not json').size).toBe(0)
  })

  it('keeps a sliding window, replaces a re-sent point and orders late ones', () => {
    const s = new SeriesSet(10_000)
    s.add('x', 1_000, 1)
    s.add('x', 3_000, 3)
    s.add('x', 2_000, 2)
    s.add('x', 3_000, 4)
    expect(s.get('x').map((p) => [p.tsMs, p.value])).toEqual([[1_000, 1], [2_000, 2], [3_000, 4]])
    s.add('x', 12_500, 5)
    expect(s.get('x').map((p) => p.tsMs)).toEqual([3_000, 12_500])
    expect(s.max(['x'])).toBe(5)
  })

  it('polls the stats again from before the newest point: a hub that answered first and sampled after it is not skipped', () => {
    const window = 15 * 60_000
    expect(statsPollSinceMs(0, 100_000_000, window)).toBe(100_000_000 - window)
    // One gathering: hub b answered at 9.7 s, hub a at 10.05 s with its point of 10 s; b's point
    // of 9.8 s came after b answered. The next poll must still reach it.
    const since = statsPollSinceMs(10_000, 11_000, window)
    expect(since).toBeLessThanOrEqual(9_800)
    expect(since).toBe(10_000 - STATS_POLL_OVERLAP_MS)
  })

  it('polls from the oldest of the hubs\' newest points: a hub whose clock is behind is not skipped, one gone quiet stops holding the poll back', () => {
    expect(pollAnchorMs(new Map())).toBe(0)
    // Hub c's clock is 20 s behind: its newest point (by its clock) is 80 s while a and b are at 100 s.
    const newest = new Map([['a', 100_000], ['b', 99_000], ['c', 80_000]])
    expect(pollAnchorMs(newest)).toBe(80_000)
    expect(statsPollSinceMs(pollAnchorMs(newest), 101_000, 15 * 60_000)).toBeLessThanOrEqual(80_000)
    // Hub d stopped answering two minutes ago: it no longer holds the others' poll back.
    newest.set('d', 100_000 - STATS_POLL_SKEW_MS - 1)
    expect(pollAnchorMs(newest)).toBe(80_000)
    newest.delete('c')
    expect(pollAnchorMs(newest)).toBe(99_000)
  })
})
