/**
 * Reading the ring's whole topic list page by page (`GET /api/v1/topics?order=topic&after=`,
 * docs/admin-api.md "Topics"): one answer holds at most 20,000 topics and a ring of several hubs
 * may hold more. Pure over the page fetcher, so it is unit-tested without a hub.
 */
import type { TopicsResponse } from '../../../../hub/src/contract/admin-api.js'

/** Topics asked per page. */
export const TOPIC_PAGE_SIZE = 5_000

/**
 * Every page until the hub gives no cursor, or `maxTopics` are loaded. The result is complete
 * (`total <= topics.length`, so the tree takes it as the truth) only when the last page came and
 * the ring did not report more topics than were read; otherwise `total` says how many there are
 * and the tree keeps what else it knows. An older hub that ignores `order` answers one
 * recency-ordered page without a cursor: that answer is returned as it is.
 */
export async function readAllTopics(fetchPage: (after: string | undefined) => Promise<TopicsResponse>, maxTopics: number): Promise<TopicsResponse> {
  const topics: TopicsResponse['topics'] = []
  let after: string | undefined
  for (;;) {
    const page = await fetchPage(after)
    topics.push(...page.topics)
    const next = page.next
    if (next === undefined) return { topics, total: Math.max(page.total, topics.length) }
    // A cursor that does not move on would loop for ever (a hub bug): stop, as truncated.
    if ((after !== undefined && next <= after) || topics.length >= maxTopics) return { topics, total: Math.max(page.total, topics.length + 1) }
    after = next
  }
}
