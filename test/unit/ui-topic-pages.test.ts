import { describe, expect, it } from 'vitest'
import type { TopicsResponse, TopicView } from '../../hub/src/contract/admin-api.js'
import { readAllTopics } from '../../ui/src/renderer/client/topic-pages.js'
import { emptyTree, findNode, withTopicList } from '../../ui/src/renderer/logic/topic-tree.js'

const view = (topic: string): TopicView => ({ topic, count: 1, lastPayload: 'v', encoding: 'utf8', lastTsMs: 1, retained: false, owner: 'h1' })

/** A hub answering `order=topic` pages of `size` over `topics`, recording the cursors asked. */
function hub(topics: readonly string[], size: number): { fetch: (after: string | undefined) => Promise<TopicsResponse>, asked: Array<string | undefined> } {
  const sorted = [...topics].sort()
  const asked: Array<string | undefined> = []
  return {
    asked,
    fetch: (after) => {
      asked.push(after)
      const rest = sorted.filter((t) => after === undefined || t > after)
      const page = rest.slice(0, size)
      const last = page.at(-1)
      return Promise.resolve({ topics: page.map(view), total: sorted.length, ...(rest.length > size && last !== undefined ? { next: last } : {}) })
    },
  }
}

describe('reading every topic page by page', () => {
  it('follows the cursor to the last page and returns a complete list (the tree takes it as the truth)', async () => {
    const topics = Array.from({ length: 12_345 }, (_, i) => `devices/d${i}/temp`)
    const h = hub(topics, 5_000)
    const res = await readAllTopics(h.fetch, 100_000)
    expect(h.asked).toHaveLength(3)
    expect(h.asked[0]).toBeUndefined()
    expect(res.topics.map((t) => t.topic)).toEqual([...topics].sort())
    expect(res.total).toBe(topics.length)
    // Complete: a topic only the tap had seen, now gone from the hub, leaves the tree.
    const root = emptyTree()
    withTopicList(root, { topics: [view('gone/topic')], total: 2 })
    const next = withTopicList(root, res)
    expect(findNode(next, 'gone/topic')).toBeUndefined()
    expect(findNode(next, 'devices/d12344/temp')?.count).toBe(1)
  })

  it('stops at maxTopics and says there are more (the tree keeps what else it knows)', async () => {
    const h = hub(Array.from({ length: 50 }, (_, i) => `t/${String(i).padStart(2, '0')}`), 10)
    const res = await readAllTopics(h.fetch, 25)
    expect(res.topics).toHaveLength(30)
    expect(res.total).toBe(50)
    expect(res.total > res.topics.length).toBe(true)
  })

  it('takes an older hub\'s single recency page as it is', async () => {
    const res = await readAllTopics(() => Promise.resolve({ topics: [view('b'), view('a')], total: 9 }), 100)
    expect(res).toEqual({ topics: [view('b'), view('a')], total: 9 })
  })

  it('stops when a cursor does not move on, as truncated', async () => {
    let calls = 0
    const res = await readAllTopics(() => { calls++; return Promise.resolve({ topics: [view('a')], total: 5, next: 'a' }) }, 100)
    expect(calls).toBe(2)
    expect(res.total).toBeGreaterThan(res.topics.length)
  })
})
