import { isUtf8 } from 'node:buffer'
import type { ChannelClientFrame, ChannelMessage } from '../contract/channels.js'
import { jsonObjectOf, mqttFilterError } from './ws-frames.js'

/** Largest frame a channel client may send, bytes: a publish of a full MQTT packet in base64. */
export function maxChannelFrameBytes(maxPacketBytes: number): number {
  return Math.ceil(maxPacketBytes * 4 / 3) + 4096
}

export type ParsedChannelFrame =
  | { ok: true, frame: ChannelClientFrame }
  /** `code` labels the metric and the error frame; `reason` is for the developer. */
  | { ok: false, ref: string | null, code: string, reason: string }

const OPS = 'auth, join, leave, publish, ack, heartbeat, presence'

/** Checks one client text frame of `/channels` (docs/channels.md). */
export function parseChannelFrame(text: string): ParsedChannelFrame {
  const object = jsonObjectOf(text)
  if (!object.ok) return object
  const m = object.value
  if (m.op === 'ack') {
    if (!Number.isSafeInteger(m.id) || (m.id as number) < 1) return { ok: false, ref: null, code: 'bad-ack', reason: 'ack needs id, a message frame\'s id (an integer ≥ 1)' }
    return { ok: true, frame: { op: 'ack', id: m.id as number } }
  }
  if (typeof m.ref !== 'string' || m.ref === '' || m.ref.length > 128) return { ok: false, ref: null, code: 'no-ref', reason: 'ref must be a non-empty string of at most 128 characters' }
  const ref = m.ref
  const fail = (code: string, reason: string): ParsedChannelFrame => ({ ok: false, ref, code, reason })
  switch (m.op) {
    case 'heartbeat': return { ok: true, frame: { ref, op: 'heartbeat' } }
    case 'auth':
      if (typeof m.username !== 'string' || m.username === '' || typeof m.password !== 'string') return fail('bad-auth', 'auth needs username and password, strings')
      return { ok: true, frame: { ref, op: 'auth', username: m.username, password: m.password } }
    case 'join': {
      const filterError = mqttFilterError(m.topic)
      if (filterError) return fail('bad-topic', filterError.replace(/^filter/, 'topic'))
      const qos = m.qos ?? 0
      if (qos !== 0 && qos !== 1) return fail('bad-qos', 'qos must be 0 or 1')
      if (m.since === undefined) return { ok: true, frame: { ref, op: 'join', topic: m.topic as string, qos } }
      const since = m.since as Record<string, unknown> | null
      if (typeof since !== 'object' || since === null || !isCount(since.epoch) || !isCount(since.seq)) return fail('bad-since', 'since must be { "epoch": E, "seq": S }, integers ≥ 0')
      return { ok: true, frame: { ref, op: 'join', topic: m.topic as string, qos, since: { epoch: since.epoch as number, seq: since.seq as number } } }
    }
    case 'leave': {
      const filterError = mqttFilterError(m.topic)
      if (filterError) return fail('bad-topic', filterError.replace(/^filter/, 'topic'))
      return { ok: true, frame: { ref, op: 'leave', topic: m.topic as string } }
    }
    case 'presence': {
      const filterError = mqttFilterError(m.topic)
      if (filterError) return fail('bad-topic', filterError.replace(/^filter/, 'topic'))
      if (m.watch !== undefined && typeof m.watch !== 'boolean') return fail('bad-watch', 'watch must be true or false')
      return { ok: true, frame: { ref, op: 'presence', topic: m.topic as string, watch: m.watch === true } }
    }
    case 'publish': {
      const topicError = publishTopicError(m.topic)
      if (topicError) return fail('bad-topic', topicError)
      const qos = m.qos ?? 1
      if (qos !== 0 && qos !== 1) return fail('bad-qos', 'qos must be 0 or 1')
      if (m.retain !== undefined && typeof m.retain !== 'boolean') return fail('bad-retain', 'retain must be true or false')
      const encoding = m.encoding ?? 'json'
      if (encoding !== 'json' && encoding !== 'base64') return fail('bad-encoding', 'encoding must be json or base64')
      if (!('payload' in m)) return fail('bad-payload', 'publish needs a payload (null is a payload)')
      if (encoding === 'base64' && (typeof m.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(m.payload))) return fail('bad-payload', 'payload is not base64')
      return { ok: true, frame: { ref, op: 'publish', topic: m.topic as string, payload: m.payload, encoding, qos, retain: m.retain === true } }
    }
    default:
      return fail('unknown-op', `unknown op ${JSON.stringify(m.op)} (${OPS})`)
  }
}

/** Why `topic` cannot be published to by a channel, or undefined. */
function publishTopicError(topic: unknown): string | undefined {
  if (typeof topic !== 'string' || topic === '') return 'topic must be a non-empty topic name'
  if (/[+#]/.test(topic)) return 'a topic name has no wildcards [MQTT-3.3.2-2]'
  if (topic.includes('\u0000')) return 'topic must not contain NUL'
  if (topic.startsWith('$')) return '$ topics are the hub\'s own; channels cannot publish to them'
  if (Buffer.byteLength(topic) > 65_535) return 'topic is over 65535 bytes'
  return undefined
}

/** The bytes a publish frame carries: JSON text of its payload, or the decoded base64. */
export function payloadOfFrame(frame: Extract<ChannelClientFrame, { op: 'publish' }>): Buffer {
  if (frame.encoding === 'base64') return Buffer.from(frame.payload as string, 'base64')
  return Buffer.from(JSON.stringify(frame.payload) ?? 'null')
}

/** A message's payload in a frame: parsed JSON when the bytes are UTF-8 JSON text, else base64. */
export function framePayload(bytes: Buffer): Pick<ChannelMessage, 'payload' | 'encoding'> {
  if (bytes.length > 0 && isUtf8(bytes)) {
    try {
      return { payload: JSON.parse(bytes.toString('utf8')) as unknown }
    } catch {
      // not JSON: base64 below
    }
  }
  return { payload: bytes.toString('base64'), encoding: 'base64' }
}

function isCount(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0
}
