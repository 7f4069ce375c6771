import { describe, expect, it } from 'vitest'
import { DeviceTracker, MAX_OFFLINE_DEVICES } from '../../hub/src/admin/device-tracker.js'
import { mergeDevices } from '../../hub/src/admin/devices-routes.js'
import { fitBytes } from '../../hub/src/admin/admin-params.js'
import { mergeTimeline } from '../../hub/src/admin/timeline.js'
import { MAX_TRACKED_TOPICS, TopicTracker } from '../../hub/src/admin/topic-tracker.js'
import { mergeTopics, publishableTopic, topicPage, topicPagePart } from '../../hub/src/admin/topics-routes.js'
import type { LocalTopic } from '../../hub/src/admin/topic-tracker.js'
import type { TopicView } from '../../hub/src/contract/admin-api.js'
import { mqttFilterError, parseClientFrame } from '../../hub/src/admin/ws-frames.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'

// The admin API's pure parts, table by table (the routes around them are in admin-api.test.ts).

describe('client frames of /api/v1/ws', () => {
  it.each([
    ['{"ref":"1","op":"ping"}', { ok: true }],
    ['{"ref":"1","op":"subscribe","channel":"stats"}', { ok: true }],
    ['{"ref":"1","op":"unsubscribe","channel":"tap"}', { ok: true }],
    ['{"ref":"1","op":"subscribe","channel":"tap","filter":"#"}', { ok: true, frame: { maxPerS: 50 } }],
    ['{"ref":"1","op":"subscribe","channel":"tap","filter":"a/+/b","maxPerS":500}', { ok: true }],
    ['nope', { ok: false, code: 'malformed-json', ref: null }],
    ['null', { ok: false, code: 'not-object' }],
    ['{"op":"ping"}', { ok: false, code: 'no-ref' }],
    ['{"ref":7,"op":"ping"}', { ok: false, code: 'no-ref' }],
    [`{"ref":"${'r'.repeat(129)}","op":"ping"}`, { ok: false, code: 'no-ref' }],
    ['{"ref":"1","op":"publish"}', { ok: false, code: 'unknown-op', ref: '1' }],
    ['{"ref":"1","op":"subscribe"}', { ok: false, code: 'unknown-channel' }],
    ['{"ref":"1","op":"subscribe","channel":"tap"}', { ok: false, code: 'bad-filter' }],
    ['{"ref":"1","op":"subscribe","channel":"tap","filter":"a","maxPerS":0}', { ok: false, code: 'bad-rate' }],
    ['{"ref":"1","op":"subscribe","channel":"tap","filter":"a","maxPerS":1.5}', { ok: false, code: 'bad-rate' }],
    ['{"ref":"1","op":"subscribe","channel":"tap","filter":"a","maxPerS":"9"}', { ok: false, code: 'bad-rate' }],
    [JSON.stringify({ ref: '1', op: 'ping', pad: 'x'.repeat(64 * 1024) }), { ok: false, code: 'oversized' }],
  ])('%s', (text, expected) => {
    expect(parseClientFrame(text)).toMatchObject(expected)
  })

  it.each([
    ['#', undefined], ['+', undefined], ['a/+/#', undefined], ['+/+', undefined], ['a//b', undefined],
    ['', 'non-empty'], ['a/#/b', '#'], ['a#', '#'], ['a/b+', '+'], ['a\u0000b', 'NUL'], [5, 'non-empty'],
  ])('filter %j', (filter, error) => {
    const got = mqttFilterError(filter)
    if (error === undefined) expect(got).toBeUndefined()
    else expect(got).toContain(error)
  })
})

describe('merging the hubs\' parts', () => {
  const rec = (id: string, online: boolean, lastSeenMs: number, msgsPerS = 0) => ({ id, online, lastSeenMs, msgsPerS, changedMs: lastSeenMs })
  it.each([
    ['online anywhere is online, there', [['a', [rec('d', false, 300)]], ['c', [rec('d', true, 100)]]], { online: true, hub: 'c', lastSeenMs: 100 }],
    ['offline everywhere: the latest record wins', [['a', [rec('d', false, 100)]], ['b', [rec('d', false, 300)]]], { online: false, hub: 'b', lastSeenMs: 300 }],
    ['rates add up', [['a', [rec('d', false, 100, 0.5)]], ['b', [rec('d', true, 50, 1.2)]]], { online: true, hub: 'b', msgsPerS: 1.7 }],
    ['one hub only', [['b', [rec('d', true, 5)]]], { online: true, hub: 'b', owner: 'o-d' }],
  ] as const)('devices: %s', (_name, parts, expected) => {
    const merged = mergeDevices(parts.map(([hub, part]) => ({ hub, part })), (id) => `o-${id}`)
    expect(merged).toHaveLength(1)
    expect(merged[0]).toMatchObject(expected)
  })

  it('topics: counts add, newest value, newest retain flag decides, most recent first', () => {
    const t = (topic: string, count: number, lastTsMs: number, retained: boolean, retainedTsMs: number, lastPayload = `v${lastTsMs}`) =>
      ({ topic, count, lastPayload, encoding: 'utf8' as const, lastTsMs, retained, retainedTsMs })
    const merged = mergeTopics([
      { part: [t('x', 2, 100, true, 100), t('y', 1, 50, false, 0)] },
      { part: [t('x', 3, 200, false, 0), t('y', 4, 400, false, 300)] },
    ], () => 'o')
    expect(merged).toEqual([
      { topic: 'y', count: 5, lastPayload: 'v400', encoding: 'utf8', lastTsMs: 400, retained: false, owner: 'o' },
      { topic: 'x', count: 5, lastPayload: 'v200', encoding: 'utf8', lastTsMs: 200, retained: true, owner: 'o' },
    ])
  })

  describe('topics in topic order, page by page', () => {
    const local = (topic: string, lastTsMs: number, lastPayload = `${topic}@${lastTsMs}`): LocalTopic =>
      ({ topic, count: 1, lastPayload, encoding: 'utf8', lastTsMs, retained: false, retainedTsMs: 0 })
    /** Reads every page as a client would, asking each hub for its part with the cursor. */
    function readAll(hubs: ReadonlyArray<readonly LocalTopic[]>, limit: number): { pages: TopicView[][], totals: number[] } {
      const pages: TopicView[][] = []
      const totals: number[] = []
      let after = ''
      for (let guard = 0; guard < 10_000; guard++) {
        const parts = hubs.map((list) => topicPagePart(list, after, limit))
        const merged = mergeTopics(parts.map((p) => ({ part: p.topics })), () => 'o')
        const page = topicPage(merged, parts.map((p) => p.cut), after, limit)
        pages.push(page.topics)
        totals.push(merged.length)
        if (page.next === undefined) return { pages, totals }
        expect(page.next > after).toBe(true)
        after = page.next
      }
      throw new Error('paging did not end')
    }

    it.each([1, 2, 3, 7, 50])('with limit %i, every topic of every hub exactly once, in order, with its newest value', (limit) => {
      const a = ['d/1', 'd/3', 'd/5', 'x', 'd/10'].map((t, i) => local(t, 10 + i))
      const b = ['d/2', 'd/3', 'd/4', 'y'].map((t, i) => local(t, 20 + i))
      const c = ['d/3', 'd/6', 'z', 'a'].map((t, i) => local(t, 5 + i))
      const { pages, totals } = readAll([a, b, c], limit)
      const all = pages.flat()
      const expected = [...new Set([...a, ...b, ...c].map((t) => t.topic))].sort()
      expect(all.map((t) => t.topic)).toEqual(expected)
      for (const p of pages.slice(0, -1)) expect(p).toHaveLength(limit)
      expect(new Set(totals)).toEqual(new Set([expected.length]))
      // d/3 is on all three hubs: the newest message (b's, at 21) gives its value; counts add.
      expect(all.find((t) => t.topic === 'd/3')).toMatchObject({ lastPayload: 'd/3@21', count: 3 })
      for (const t of all) expect(t.lastPayload, t.topic).not.toBe('')
    })

    it('a hub whose page does not fit its part stops the page where it was cut, and the next page goes on from there', () => {
      // 1000 topics of 4 KiB: about 4 MB, twice what a hub sends of one page.
      const big = Array.from({ length: 1_000 }, (_, i) => local(`big/${String(i).padStart(4, '0')}`, i, 'x'.repeat(4_096)))
      const small = Array.from({ length: 300 }, (_, i) => local(`big/${String(i * 3).padStart(4, '0')}a`, 5_000 + i))
      const part = topicPagePart(big, '', 1_000)
      expect(part.cut).toBeDefined()
      expect(part.topics.filter((t) => t.lastPayload !== '').length).toBeLessThan(1_000)
      const { pages } = readAll([big, small], 1_000)
      expect(pages.length).toBeGreaterThan(1)
      const all = pages.flat()
      expect(all.map((t) => t.topic)).toEqual([...big, ...small].map((t) => t.topic).sort())
      // Past the cut the hub sent names without values: the page must not have shown those.
      const value = new Map([...big, ...small].map((t) => [t.topic, t.lastPayload]))
      for (const t of all) expect(t.lastPayload === value.get(t.topic), t.topic).toBe(true)
    })

    it('an empty ring answers one empty page without a cursor', () => {
      expect(readAll([[], []], 10)).toEqual({ pages: [[]], totals: [0] })
    })
  })

  it('timeline: de-duplicated by (seenBy, tsMs, type, member), in time order, the newest limit', () => {
    const e = (seenBy: string, tsMs: number, member = 'm') => ({ seenBy, tsMs, type: 'memberJoined' as const, member })
    const merged = mergeTimeline([{ part: [e('a', 3), e('a', 1)] }, { part: [e('a', 1), e('b', 2), e('b', 2, 'n')] }], 3)
    expect(merged.map((x) => `${x.seenBy}${x.tsMs}${x.member}`)).toEqual(['b2m', 'b2n', 'a3m'])
  })

  it('answers are cut to a byte bound, the leading items kept', () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ i, pad: 'x'.repeat(90) }))
    const fitted = fitBytes(items, 1_000)
    expect(fitted.length).toBeGreaterThan(0)
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(1_000)
    expect(fitted[0]).toBe(items[0])
  })

  it.each([
    ['devices/d1/cmd', undefined], ['a', undefined], ['', 'non-empty'], ['a/+', '+'], ['a/#', '#'], ['$SYS/x', '$'], [null, 'non-empty'],
  ])('publishable topic %j', (topic, error) => {
    const got = publishableTopic(topic)
    if (error === undefined) expect(got).toBeUndefined()
    else expect(got).toContain(error)
  })
})

describe('what each hub tracks', () => {
  it('devices: online while any connection is open, rate over 10 s, bounded offline list', () => {
    const clock = new ManualClock()
    const devices = new DeviceTracker(clock)
    devices.connected('d1')
    devices.connected('d1') // a takeover: the new connection opens before the old one closes
    devices.disconnected('d1')
    expect(devices.list('', 10)[0]).toMatchObject({ id: 'd1', online: true })
    for (let i = 0; i < 20; i++) devices.published('d1')
    expect(devices.list('D1', 10)[0]?.msgsPerS).toBe(2)
    clock.advance(5_000)
    expect(devices.list('', 10)[0]?.msgsPerS).toBe(2)
    clock.advance(6_000)
    expect(devices.list('', 10)[0]?.msgsPerS).toBe(0)
    devices.disconnected('d1')
    expect(devices.list('', 10)[0]).toMatchObject({ online: false, lastSeenMs: clock.now() })
    expect(devices.list('x', 10)).toEqual([])
    for (let i = 0; i < MAX_OFFLINE_DEVICES + 5; i++) { devices.connected(`e${i}`); devices.disconnected(`e${i}`) }
    expect(devices.size).toBe(MAX_OFFLINE_DEVICES)
    expect(devices.list('d1', 10)).toEqual([]) // the oldest offline one was forgotten
  })

  it('topics: bounded, least recently published out, $ topics left out, last payload cut', () => {
    const clock = new ManualClock()
    const topics = new TopicTracker(clock)
    topics.published('$SYS/broker/uptime', Buffer.from('1'), false)
    topics.published('keep', Buffer.alloc(10_000, 0x61), false)
    for (let i = 0; i < MAX_TRACKED_TOPICS; i++) topics.published(`t/${i}`, Buffer.from('x'), false)
    topics.published('keep', Buffer.from('again'), false) // would be first out without this
    expect(topics.size).toBe(MAX_TRACKED_TOPICS)
    expect(topics.list('keep', 5)).toMatchObject([{ topic: 'keep', count: 1, lastPayload: 'again' }])
    expect(topics.list('$', 5)).toEqual([])
    topics.published('big', Buffer.alloc(10_000, 0x62), true)
    expect(topics.list('big', 1)[0]?.lastPayload).toHaveLength(4_096)
    expect(topics.list('big', 1)[0]?.retained).toBe(true)
  })
})
