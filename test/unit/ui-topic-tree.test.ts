import { describe, expect, it } from 'vitest'
import type { TapMessage, TopicView } from '../../hub/src/contract/admin-api.js'
import { applyTapMessage, applyTopicView, emptyTree, findNode, topTopics, visibleRows, withTopicList } from '../../ui/src/renderer/logic/topic-tree.js'

const view = (topic: string, count: number, retained = false): TopicView => ({ topic, count, lastPayload: `v${count}`, encoding: 'utf8', lastTsMs: count, retained, owner: 'h1' })
const tap = (topic: string, payload = 'x', retain = false): TapMessage => ({ topic, payload, encoding: 'utf8', qos: 0, retain, tsMs: 1 })

describe('the topic tree', () => {
  it('splits topics on / and sums counts and topics up the path', () => {
    const root = emptyTree()
    applyTopicView(root, view('devices/d1/temp', 5, true))
    applyTopicView(root, view('devices/d1/hum', 2))
    applyTopicView(root, view('devices/d2/temp', 1))
    expect(root.total).toBe(8)
    expect(root.topics).toBe(3)
    expect(findNode(root, 'devices/d1')).toMatchObject({ total: 7, topics: 2, count: 0 })
    expect(findNode(root, 'devices/d1/temp')).toMatchObject({ count: 5, total: 5, last: { payload: 'v5', retained: true } })
    // A newer list replaces a topic's figures rather than adding to them.
    applyTopicView(root, view('devices/d1/temp', 6, true))
    expect(root.total).toBe(9)
    expect(root.topics).toBe(3)
  })

  it('keeps empty levels and a topic that is also a parent', () => {
    const root = emptyTree()
    applyTapMessage(root, tap('a//b'))
    applyTapMessage(root, tap('/lead'))
    applyTapMessage(root, tap('a'))
    expect(findNode(root, 'a//b')?.count).toBe(1)
    expect(findNode(root, '/lead')?.count).toBe(1)
    expect(findNode(root, 'a')).toMatchObject({ count: 1, total: 2, topics: 2 })
  })

  it.each([
    // [retained before, message retain flag, payload, retained after]
    [false, true, 'on', true],
    [true, false, 'live', true],
    [true, true, '', false],
    [false, false, 'live', false],
  ])('tracks the retained marker: was %s, message retain=%s payload %j → %s', (before, retain, payload, after) => {
    const root = emptyTree()
    applyTopicView(root, view('t/x', 1, before))
    applyTapMessage(root, tap('t/x', payload, retain))
    expect(findNode(root, 't/x')?.last?.retained).toBe(after)
  })

  it('lists rows of expanded nodes only, sorted naturally, and a filter opens matching paths', () => {
    const root = emptyTree()
    for (const t of ['d/n10/x', 'd/n2/x', 'd/n1/x', 'e/y']) applyTapMessage(root, tap(t))
    expect(visibleRows(root, new Set()).map((r) => r.node.topic)).toEqual(['d', 'e'])
    expect(visibleRows(root, new Set(['d'])).map((r) => r.node.topic)).toEqual(['d', 'd/n1', 'd/n2', 'd/n10', 'e'])
    const filtered = visibleRows(root, new Set(), 'N2')
    expect(filtered.map((r) => [r.node.topic, r.depth])).toEqual([['d', 0], ['d/n2', 1], ['d/n2/x', 2]])
  })

  it('takes a complete topic list as the truth, and a truncated one as an update', () => {
    const root = emptyTree()
    applyTapMessage(root, tap('seen/by/tap'))
    applyTapMessage(root, tap('t/x'))
    const truncated = withTopicList(root, { topics: [view('t/x', 7, true)], total: 5 })
    expect(truncated).toBe(root)
    expect(findNode(truncated, 'seen/by/tap')?.count).toBe(1)
    expect(findNode(truncated, 't/x')).toMatchObject({ count: 7, last: { retained: true } })
    expect(truncated.topics).toBe(2)
    const complete = withTopicList(root, { topics: [view('t/x', 8)], total: 1 })
    expect(findNode(complete, 'seen/by/tap')).toBeUndefined()
    expect(complete).toMatchObject({ topics: 1, total: 8 })
  })

  it('builds 10k topics and lists their top ones quickly', () => {
    const root = emptyTree()
    const started = performance.now()
    for (let i = 0; i < 10_000; i++) applyTopicView(root, view(`devices/d${i % 1000}/m${Math.floor(i / 1000)}`, i))
    for (let i = 0; i < 2_000; i++) applyTapMessage(root, tap(`devices/d${i % 1000}/m0`))
    expect(root.topics).toBe(10_000)
    expect(topTopics(root, 3).map((n) => n.topic)).toEqual(['devices/d999/m9', 'devices/d998/m9', 'devices/d997/m9'])
    expect(visibleRows(root, new Set(['devices']))).toHaveLength(1001)
    // Generous bound for a shared CI core: what matters is that it is not quadratic.
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})
