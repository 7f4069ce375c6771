import type { AdminChannel, AdminClientFrame } from '../contract/admin-api.js'

/** Largest client frame answered normally, bytes; larger ones get an error frame. */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024
export const TAP_DEFAULT_MAX_PER_S = 50
export const TAP_MAX_PER_S = 500
const CHANNELS: ReadonlySet<string> = new Set<AdminChannel>(['ring', 'timeline', 'stats', 'devices', 'tap'])

export type ParsedFrame =
  | { ok: true, frame: AdminClientFrame }
  /** `code` labels the metric; `reason` is for the operator. */
  | { ok: false, ref: string | null, code: string, reason: string }

/** Checks one client frame of `/api/v1/ws` (docs/admin-api.md "WebSocket"). */
export function parseClientFrame(text: string): ParsedFrame {
  if (Buffer.byteLength(text) > MAX_CLIENT_FRAME_BYTES) return { ok: false, ref: null, code: 'oversized', reason: `frames are limited to ${MAX_CLIENT_FRAME_BYTES} bytes` }
  const object = jsonObjectOf(text)
  if (!object.ok) return object
  const m = object.value
  if (typeof m.ref !== 'string' || m.ref.length > 128) return { ok: false, ref: null, code: 'no-ref', reason: 'ref must be a string of at most 128 characters' }
  const ref = m.ref
  const fail = (code: string, reason: string): ParsedFrame => ({ ok: false, ref, code, reason })
  if (m.op === 'ping') return { ok: true, frame: { ref, op: 'ping' } }
  if (m.op !== 'subscribe' && m.op !== 'unsubscribe') return fail('unknown-op', `unknown op ${JSON.stringify(m.op)} (subscribe, unsubscribe, ping)`)
  if (typeof m.channel !== 'string' || !CHANNELS.has(m.channel)) return fail('unknown-channel', `unknown channel ${JSON.stringify(m.channel)} (${[...CHANNELS].join(', ')})`)
  const channel = m.channel as AdminChannel
  if (m.op === 'unsubscribe') return { ok: true, frame: { ref, op: 'unsubscribe', channel } }
  if (channel === 'ring') {
    if (m.deltas !== undefined && typeof m.deltas !== 'boolean') return fail('bad-option', 'deltas must be true or false')
    return { ok: true, frame: m.deltas === true ? { ref, op: 'subscribe', channel, deltas: true } : { ref, op: 'subscribe', channel } }
  }
  if (channel !== 'tap') return { ok: true, frame: { ref, op: 'subscribe', channel } }
  const filterError = mqttFilterError(m.filter)
  if (filterError) return fail('bad-filter', filterError)
  const maxPerS = m.maxPerS ?? TAP_DEFAULT_MAX_PER_S
  if (typeof maxPerS !== 'number' || !Number.isInteger(maxPerS) || maxPerS < 1 || maxPerS > TAP_MAX_PER_S) return fail('bad-rate', `maxPerS must be an integer in [1, ${TAP_MAX_PER_S}]`)
  return { ok: true, frame: { ref, op: 'subscribe', channel: 'tap', filter: m.filter as string, maxPerS } }
}

/** A WebSocket text frame as a JSON object, or why it is not one (nothing to answer to: no ref). */
export function jsonObjectOf(text: string): { ok: true, value: Record<string, unknown> } | { ok: false, ref: null, code: string, reason: string } {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return { ok: false, ref: null, code: 'malformed-json', reason: 'the frame is not JSON' }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, ref: null, code: 'not-object', reason: 'a frame is a JSON object' }
  return { ok: true, value: v as Record<string, unknown> }
}

/** Why `filter` is not a valid MQTT topic filter [MQTT-4.7.1], or undefined. */
export function mqttFilterError(filter: unknown): string | undefined {
  if (typeof filter !== 'string' || filter === '') return 'filter must be a non-empty MQTT topic filter, e.g. devices/+/telemetry/#'
  if (Buffer.byteLength(filter) > 65_535) return 'filter is over 65535 bytes'
  if (filter.includes('\u0000')) return 'filter must not contain NUL'
  const levels = filter.split('/')
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '# must be a whole level and the last one [MQTT-4.7.1-2]'
    if (level.includes('+') && level !== '+') return '+ must be a whole level [MQTT-4.7.1-3]'
  }
  return undefined
}
