import type { Clock } from '../base/clock.js'
import type { TopicView } from '../contract/admin-api.js'

/** Topics remembered per hub; the least recently published are forgotten beyond this. */
export const MAX_TRACKED_TOPICS = 20_000
/** Longest last payload kept per topic, bytes; a longer one is cut (the history has it whole). */
export const MAX_LAST_PAYLOAD_BYTES = 4_096

/** One hub's record of one topic, as a peer sends it (the payload already JSON-safe; the owner is the asking hub's to add). */
export interface LocalTopic extends Omit<TopicView, 'owner'> {
  /** When this hub last saw a publish with the retain flag (0: never): the newest one decides `retained`. */
  retainedTsMs: number
}

interface Entry { count: number, payload: Buffer, tsMs: number, retained: boolean, retainedTsMs: number }

/**
 * Recent topics of the messages published through this hub (its clients' publishes and the admin
 * API's), with counts and the last payload: the topic tree's data. Bounded, least recently used
 * out. Each hub sees its own ingress only; the admin API sums the hubs (topics-service.ts).
 * `$` topics ($SYS, $ringhub) are local bookkeeping and are left out.
 */
export class TopicTracker {
  /** Insertion order is recency order. */
  readonly #topics = new Map<string, Entry>()

  constructor(private readonly clock: Clock) {}

  published(topic: string, payload: Buffer, retain: boolean): void {
    if (topic.startsWith('$')) return
    const e = this.#topics.get(topic)
    if (e) this.#topics.delete(topic)
    // A retained publish with an empty payload clears the retained message [MQTT-3.3.1-10].
    const now = this.clock.now()
    const retained = retain ? payload.length > 0 : (e?.retained ?? false)
    const retainedTsMs = retain ? now : (e?.retainedTsMs ?? 0)
    const kept = payload.length > MAX_LAST_PAYLOAD_BYTES ? Buffer.from(payload.subarray(0, MAX_LAST_PAYLOAD_BYTES)) : Buffer.from(payload)
    this.#topics.set(topic, { count: (e?.count ?? 0) + 1, payload: kept, tsMs: now, retained, retainedTsMs })
    if (this.#topics.size > MAX_TRACKED_TOPICS) {
      const oldest = this.#topics.keys().next().value
      if (oldest !== undefined) this.#topics.delete(oldest)
    }
  }

  /** Topics starting with `prefix`, most recent first, at most `limit`. */
  list(prefix: string, limit: number): LocalTopic[] {
    const out: LocalTopic[] = []
    for (const [topic, e] of [...this.#topics].reverse()) {
      if (out.length >= limit) break
      if (!topic.startsWith(prefix)) continue
      out.push({ topic, count: e.count, ...encodePayload(e.payload), lastTsMs: e.tsMs, retained: e.retained, retainedTsMs: e.retainedTsMs })
    }
    return out
  }

  get size(): number { return this.#topics.size }
}

/** A payload as the contract carries it: UTF-8 text when it decodes as such, else base64. */
export function encodePayload(payload: Buffer): { lastPayload: string, encoding: 'utf8' | 'base64' } {
  const text = payload.toString('utf8')
  if (Buffer.byteLength(text) === payload.length && !text.includes('\uFFFD')) return { lastPayload: text, encoding: 'utf8' }
  return { lastPayload: payload.toString('base64'), encoding: 'base64' }
}
