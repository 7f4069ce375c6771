import { keyOf } from '../ring/keys.js'
import type { Offset } from '../store/topic-log.js'
import { LogUnknownError } from './log-reach.js'
import { MAX_LOG_READ, type Router } from './router.js'

/**
 * Resume from an offset (issue 4 item 7): a key's messages after `(epoch, seq)`, read from the
 * key's owner. One reader for both doors, the admin API (`GET /api/keys/messages`) and the MQTT
 * convention (`$ringhub/resume/<clientId>/req`); docs/admin-api.md and docs/mqtt.md.
 */

export interface ResumeRequest { key: string, since: Offset, limit: number }

/** One message of a resume answer (JSON): the payload in base64, and as text when it is UTF-8. */
export interface ResumedMessage { epoch: number, seq: number, topic: string, qos: number, retain: boolean, tsMs: number, payload: string, text?: string }

export interface ResumeAnswer {
  key: string
  /** The hub that answered (the key's owner). */
  owner: string
  /**
   * The first offset the log the answer was read from holds: the owner's, or, when older entries
   * came from other hubs, the first any of them holds (null: none of the key). A `since` before it
   * missed entries (retention, or a hub holding them did not answer: `Router.logSince`).
   */
  oldest: Offset | null
  messages: ResumedMessage[]
  /** The offset to ask from next time (the last message's, or `since` when there was none). */
  next: Offset
}

/**
 * Checks a request's fields as they come (query parameters or JSON): `key` a key (the first
 * `keyDepth` levels of a topic, not `$`), `since` `EPOCH:SEQ` or `{ epoch, seq }` (default 0:0),
 * `limit` 1..MAX_LOG_READ (default MAX_LOG_READ). An error text for the client otherwise.
 */
export function parseResumeRequest(fields: { key?: unknown, since?: unknown, limit?: unknown }, keyDepth: number): ResumeRequest | string {
  const { key } = fields
  if (typeof key !== 'string' || key === '') return 'key is required (e.g. key=devices/d42)'
  if (keyOf(key, keyDepth) !== key) return `${key} is not a key: a key is the first ${keyDepth} levels of a topic, without $`
  const since = parseOffset(fields.since ?? '0:0')
  if (!since) return 'since must be EPOCH:SEQ (e.g. 3:17) or { "epoch": 3, "seq": 17 }'
  const limit = fields.limit === undefined ? MAX_LOG_READ : Number(fields.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_READ) return `limit must be an integer in [1, ${MAX_LOG_READ}]`
  return { key, since, limit }
}

/** Reads the messages from the key's owner; rejects when the owner does not answer. */
export async function readResume(router: Pick<Router, 'logSince'>, request: ResumeRequest): Promise<ResumeAnswer> {
  const { owner, entries, oldest } = await router.logSince(request.key, request.since, request.limit)
  const last = entries.at(-1)
  return {
    key: request.key,
    owner,
    oldest,
    messages: entries.map((e) => ({ epoch: e.epoch, seq: e.seq, topic: e.topic, qos: e.qos, retain: e.retain, tsMs: e.tsMs, payload: e.payload.toString('base64'), ...textOf(e.payload) })),
    next: last ? { epoch: last.epoch, seq: last.seq } : request.since,
  }
}

/** What a client is told when a read failed: the owner did not answer, or nobody can say (`LogUnknownError`). */
export function resumeErrorText(err: unknown): string {
  if (err instanceof LogUnknownError) return err.message
  return `the key's owner did not answer: ${err instanceof Error ? err.message : String(err)}`
}

function parseOffset(value: unknown): Offset | undefined {
  if (typeof value === 'string') {
    const m = /^(\d+):(\d+)$/.exec(value)
    return m ? { epoch: Number(m[1]), seq: Number(m[2]) } : undefined
  }
  if (typeof value === 'object' && value !== null) {
    const { epoch, seq } = value as { epoch?: unknown, seq?: unknown }
    if (Number.isSafeInteger(epoch) && Number.isSafeInteger(seq) && (epoch as number) >= 0 && (seq as number) >= 0) return { epoch: epoch as number, seq: seq as number }
  }
  return undefined
}

function textOf(payload: Buffer): { text?: string } {
  const text = payload.toString('utf8')
  return Buffer.byteLength(text) === payload.length && !text.includes('\uFFFD') ? { text } : {}
}
