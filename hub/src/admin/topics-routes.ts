import type { Aedes } from 'aedes'
import type { TopicHistoryResponse, TopicMessage, TopicView, TopicsResponse } from '../contract/admin-api.js'
import { keyOf } from '../ring/keys.js'
import { MAX_LOG_READ } from '../routing/router.js'
import type { TopicLog } from '../store/topic-log.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { fitBytes, intParam, listOf, MAX_PART_BYTES, queryOf, readJsonBody, textParam } from './admin-params.js'
import type { RingQuery } from './ring-query.js'
import { encodePayload, type LocalTopic, type TopicTracker } from './topic-tracker.js'

export const MAX_TOPICS_LIMIT = 20_000
/** Most topics one hub sends for one query. */
const PART_LIMIT = 20_000
/** Payload bytes of a key's log tail read for one topic's history. */
const HISTORY_READ_BYTES = 8 * 1024 * 1024
const validTopics = listOf<LocalTopic>('topics', { topic: 'string', count: 'number', lastPayload: 'string', encoding: 'string', lastTsMs: 'number', retained: 'boolean', retainedTsMs: 'number' })

/** One hub's part of a topics query; `cut`: its page in topic order ends there for lack of room. */
export interface TopicsPart { topics: LocalTopic[], cut?: string }

function validTopicsPart(v: unknown): TopicsPart | undefined {
  const topics = validTopics(v)
  if (topics === undefined) return undefined
  const cut = (v as { cut?: unknown }).cut
  if (cut !== undefined && typeof cut !== 'string') return undefined
  return cut === undefined ? { topics } : { topics, cut }
}

const byTopic = (a: { topic: string }, b: { topic: string }): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0)

/**
 * One hub's part of a page in topic order: its first `limit` topics after `after` with their last
 * payloads (at most half the part's bytes: `cut` names the last one sent when they do not all
 * fit), then every other matching topic without its payload, for the ring-wide `total`. A topic
 * among the ring's first `limit` after `after` is among each hub's first `limit` that has it, so
 * the merged page has every value it shows.
 */
export function topicPagePart(list: readonly LocalTopic[], after: string, limit: number): TopicsPart {
  const candidates = list.filter((t) => t.topic > after).sort(byTopic).slice(0, limit)
  const page = fitBytes(candidates, MAX_PART_BYTES / 2)
  const inPage = new Set(page.map((t) => t.topic))
  const rest = fitBytes(list.filter((t) => !inPage.has(t.topic)).map((t) => ({ ...t, lastPayload: '' })), MAX_PART_BYTES / 2)
  const topics = [...page, ...rest]
  return page.length < candidates.length ? { topics, cut: page.at(-1)?.topic ?? after } : { topics }
}

/**
 * A page in topic order from the merged hubs' parts: the topics after `after`, at most `limit`,
 * and not past any hub's `cut` (a hub that could not send more has topics beyond it that the page
 * would otherwise skip). `next` when topics remain.
 */
export function topicPage(merged: readonly TopicView[], cuts: ReadonlyArray<string | undefined>, after: string, limit: number): { topics: TopicView[], next?: string } {
  const cutAt = cuts.reduce<string | undefined>((min, c) => (c !== undefined && (min === undefined || c < min) ? c : min), undefined)
  const remaining = merged.filter((t) => t.topic > after && (cutAt === undefined || t.topic <= cutAt)).sort(byTopic)
  const topics = remaining.slice(0, limit)
  const more = remaining.length > limit || cutAt !== undefined
  const last = topics.at(-1)?.topic
  return more && last !== undefined ? { topics, next: last } : { topics }
}
const validMessages = listOf<TopicMessage>('messages', { topic: 'string', epoch: 'number', seq: 'number', tsMs: 'number', qos: 'number', retain: 'boolean', payload: 'string', encoding: 'string' })

/**
 * Merges the hubs' topic records: counts add up (each hub counts what entered through it), the
 * latest message gives the last value, and the newest retain-flag publish any hub saw decides
 * `retained`. Most recent first.
 */
export function mergeTopics(parts: ReadonlyArray<{ part: readonly LocalTopic[] }>, ownerOf: (topic: string) => string): TopicView[] {
  const byTopic = new Map<string, { view: TopicView, retainedTsMs: number }>()
  for (const { part } of parts) {
    for (const { retainedTsMs, ...t } of part) {
      const seen = byTopic.get(t.topic)
      if (!seen) { byTopic.set(t.topic, { view: { ...t, owner: ownerOf(t.topic) }, retainedTsMs }); continue }
      const { view } = seen
      view.count += t.count
      if (t.lastTsMs > view.lastTsMs) Object.assign(view, { lastPayload: t.lastPayload, encoding: t.encoding, lastTsMs: t.lastTsMs })
      if (retainedTsMs > seen.retainedTsMs) { seen.retainedTsMs = retainedTsMs; view.retained = t.retained }
    }
  }
  return [...byTopic.values()].map((x) => x.view).sort((a, b) => b.lastTsMs - a.lastTsMs || (a.topic < b.topic ? -1 : 1))
}

/** A topic an operator may publish to: no wildcards, no NUL, not `$`, at most 65,535 bytes [MQTT-4.7.3]. */
export function publishableTopic(topic: unknown): string | undefined {
  if (typeof topic !== 'string' || topic === '') return 'topic must be a non-empty string'
  if (/[+#]/.test(topic) || topic.includes('\u0000')) return 'topic must not contain +, # or NUL'
  if (topic.startsWith('$')) return 'topics starting with $ are reserved for the hubs'
  if (Buffer.byteLength(topic) > 65_535) return 'topic is over 65535 bytes'
  return undefined
}

export interface TopicsDeps {
  admin: AdminServer
  ring: RingQuery
  topics: TopicTracker
  topicLog: TopicLog
  broker: Aedes
  keyDepth: number
  maxPacketBytes: number
  ownerOf: (topic: string) => string
}

/** `GET /api/v1/topics`, `GET /api/v1/topics/history` and `POST /api/v1/publish`. */
export function registerTopics(deps: TopicsDeps): void {
  const { admin, ring, topics, topicLog, broker, keyDepth, ownerOf } = deps
  const bad = (res: Parameters<typeof sendJson>[0], reason: string, error: string): void => {
    admin.countBadRequest(res, reason)
    sendJson(res, 400, { error })
  }
  // Last payloads only for the hub's `limit` most recent topics: a topic in the ring's `limit`
  // most recent is among those of the hub that saw its newest message, which gives its value.
  ring.handle('topics', (params): TopicsPart => {
    const limit = typeof params.limit === 'number' ? params.limit : MAX_TOPICS_LIMIT
    const list = topics.list(typeof params.prefix === 'string' ? params.prefix : '', PART_LIMIT)
    if (params.order === 'topic') return topicPagePart(list, typeof params.after === 'string' ? params.after : '', limit)
    return { topics: fitBytes(list.map((t, i) => (i < limit ? t : { ...t, lastPayload: '' }))) }
  })
  // Answered by the key's owner from its topic log (the resume reader's log; newest entries).
  ring.handle('topic-history', (params) => {
    const topic = String(params.topic)
    const key = keyOf(topic, keyDepth)
    const limit = Math.min(Number(params.limit) || 100, MAX_LOG_READ)
    if (key === null) return { messages: [] }
    const entries = topicLog.tail(key, MAX_LOG_READ, HISTORY_READ_BYTES).filter((e) => e.topic === topic).slice(-limit)
    const messages = entries.map((e): TopicMessage => {
      const { lastPayload, encoding } = encodePayload(e.payload)
      return { topic: e.topic, epoch: e.epoch, seq: e.seq, tsMs: e.tsMs, qos: e.qos, retain: e.retain, payload: lastPayload, encoding }
    })
    // The newest ones when they do not all fit in one answer.
    return { messages: fitBytes(messages.reverse()).reverse() }
  })

  admin.route('GET /api/v1/topics', async (req, res) => {
    const query = queryOf(req)
    const prefix = textParam(query, 'prefix', 65_535)
    const after = textParam(query, 'after', 65_535)
    const limit = intParam(query, 'limit', 1_000, 1, MAX_TOPICS_LIMIT)
    const order = query.get('order') ?? 'recent'
    if (typeof prefix !== 'string') return bad(res, 'topics-query', prefix.error)
    if (typeof after !== 'string') return bad(res, 'topics-query', after.error)
    if (typeof limit === 'string') return bad(res, 'topics-query', limit)
    if (order !== 'recent' && order !== 'topic') return bad(res, 'topics-query', 'order must be recent or topic')
    if (after !== '' && order !== 'topic') return bad(res, 'topics-query', 'after pages in topic order: add order=topic')
    const parts = await ring.gather('topics', { prefix, limit, order, after }, validTopicsPart)
    const merged = mergeTopics(parts.map(({ part }) => ({ part: part.topics })), ownerOf)
    const page = order === 'topic' ? topicPage(merged, parts.map(({ part }) => part.cut), after, limit) : { topics: merged.slice(0, limit) }
    const body: TopicsResponse = { ...page, total: merged.length }
    sendJson(res, 200, body)
  })

  admin.route('GET /api/v1/topics/history', async (req, res) => {
    const query = queryOf(req)
    const topic = query.get('topic') ?? ''
    const limit = intParam(query, 'limit', 100, 1, MAX_LOG_READ)
    if (topic === '' || /[+#]/.test(topic) || topic.includes('\u0000') || keyOf(topic, keyDepth) === null) return bad(res, 'history-query', 'topic must be a topic (no wildcards, not $..., e.g. devices/d42/telemetry)')
    if (typeof limit === 'string') return bad(res, 'history-query', limit)
    const owner = ownerOf(topic)
    try {
      const messages = await ring.ask(owner, 'topic-history', { topic, limit }, validMessages)
      const body: TopicHistoryResponse = { topic, messages }
      sendJson(res, 200, body)
    } catch (err) {
      sendJson(res, 503, { error: `the topic's owner ${owner} did not answer: ${err instanceof Error ? err.message : String(err)}` })
    }
  })

  admin.route('POST /api/v1/publish', async (req, res) => {
    // base64 grows a payload by 4/3; the rest of the body is small.
    const body = await readJsonBody(req, Math.ceil(deps.maxPacketBytes * 4 / 3) + 70_000)
    if (typeof body === 'string') return bad(res, 'publish-body', body)
    const { topic, payload, encoding = 'utf8', qos = 1, retain = false } = body
    const topicError = publishableTopic(topic)
    if (topicError) return bad(res, 'publish-body', topicError)
    if (typeof payload !== 'string') return bad(res, 'publish-body', 'payload must be a string')
    if (encoding !== 'utf8' && encoding !== 'base64') return bad(res, 'publish-body', 'encoding must be utf8 or base64')
    if (qos !== 0 && qos !== 1) return bad(res, 'publish-body', 'qos must be 0 or 1')
    if (typeof retain !== 'boolean') return bad(res, 'publish-body', 'retain must be a boolean')
    if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return bad(res, 'publish-body', 'payload is not base64')
    const bytes = Buffer.from(payload, encoding)
    if (bytes.length > deps.maxPacketBytes) return bad(res, 'publish-body', `payload is over maxPacketBytes (${deps.maxPacketBytes})`)
    try {
      // Through the broker, hence the ring: the callback runs once the key's owner committed it.
      await new Promise<void>((resolve, reject) => {
        broker.publish({ cmd: 'publish', topic: topic as string, payload: bytes, qos, retain, dup: false }, (err) => { if (err) reject(err); else resolve() })
      })
      sendJson(res, 200, { ok: true })
    } catch (err) {
      sendJson(res, 503, { ok: false, error: `the key's owner did not acknowledge the message: ${err instanceof Error ? err.message : String(err)}` })
    }
  })
}
