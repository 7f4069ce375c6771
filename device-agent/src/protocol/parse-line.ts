import { DEVICE_FRAME_TYPES, ID_PATTERN, NAME_PATTERN, type DeviceFrame } from './frames.js'
import { parseKeyValueLine } from './key-value.js'

/** Why a line was not a frame. Each is a counter (`serial_dropped_total{reason}` in stats). */
export type LineRejectReason = 'noise' | 'bad-json' | 'bad-frame' | 'unknown-type' | 'wrong-device' | 'bad-kv'

export type ParsedLine =
  | { kind: 'frame', frame: DeviceFrame, /** Bytes of junk skipped before the frame. */ skippedBytes: number }
  | { kind: 'empty' }
  | { kind: 'rejected', reason: LineRejectReason, detail: string }

const FRAME_START = Buffer.from('{"type"')
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Control bytes other than TAB mean line noise, not text. */
function hasControlBytes(line: Buffer): boolean {
  for (const b of line) if ((b < 0x20 && b !== 0x09) || b === 0x7f) return true
  return false
}

function decode(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * One line from the serial port → a frame or a reason to drop it (docs/serial-protocol.md):
 * JSON frames may follow junk on the same line (resync at `{"type"`), plain `key=value` lines are
 * telemetry, anything else is noise. `device` is the id configured for the port.
 */
export function parseLine(line: Buffer, device: string): ParsedLine {
  const first = line.indexOf(FRAME_START)
  if (first >= 0) {
    let parsed = parseJsonFrame(line.subarray(first), device)
    const last = line.lastIndexOf(FRAME_START)
    // A partial frame cut off by a newer one on the same line: the newer one is the frame.
    if (parsed.kind === 'rejected' && last > first) {
      const retry = parseJsonFrame(line.subarray(last), device)
      if (retry.kind === 'frame') return { ...retry, skippedBytes: last }
      parsed = retry.reason === 'bad-json' ? parsed : retry
    }
    return parsed.kind === 'frame' ? { ...parsed, skippedBytes: first } : parsed
  }
  if (line.every((b) => b === 0x20 || b === 0x09)) return { kind: 'empty' }
  if (hasControlBytes(line)) return { kind: 'rejected', reason: 'noise', detail: 'control bytes' }
  const text = decode(line)
  if (text === undefined) return { kind: 'rejected', reason: 'noise', detail: 'not UTF-8' }
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) return parseJsonFrame(line, device)
  if (trimmed.includes('=')) {
    const kv = parseKeyValueLine(trimmed)
    if ('error' in kv) return { kind: 'rejected', reason: 'bad-kv', detail: kv.error }
    return { kind: 'frame', frame: { type: 'telemetry', payload: kv.readings }, skippedBytes: 0 }
  }
  return { kind: 'rejected', reason: 'noise', detail: 'neither a JSON frame nor key=value' }
}

type FrameResult = { kind: 'frame', frame: DeviceFrame, skippedBytes: number } | { kind: 'rejected', reason: LineRejectReason, detail: string }

function reject(reason: LineRejectReason, detail: string): FrameResult {
  return { kind: 'rejected', reason, detail }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseJsonFrame(bytes: Buffer, device: string): FrameResult {
  if (hasControlBytes(bytes)) return reject('bad-json', 'control bytes inside a JSON frame')
  const text = decode(bytes)
  if (text === undefined) return reject('bad-json', 'not UTF-8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    return reject('bad-json', (err as Error).message)
  }
  if (!isObject(raw)) return reject('bad-frame', 'not a JSON object')
  const { type } = raw
  if (typeof type !== 'string') return reject('bad-frame', 'no "type"')
  if (!(DEVICE_FRAME_TYPES as readonly string[]).includes(type)) return reject('unknown-type', `type ${JSON.stringify(type).slice(0, 40)}`)
  if (raw.device !== undefined && raw.device !== device) return reject('wrong-device', `device ${JSON.stringify(raw.device).slice(0, 80)} on the port of ${device}`)
  if (raw.seq !== undefined && !(Number.isSafeInteger(raw.seq) && (raw.seq as number) >= 0)) return reject('bad-frame', '"seq" must be a non-negative integer')
  const header = { ...(raw.device !== undefined ? { device } : {}), ...(raw.seq !== undefined ? { seq: raw.seq as number } : {}) }
  switch (type as DeviceFrame['type']) {
    case 'hello': case 'state': case 'telemetry': {
      if (!isObject(raw.payload)) return reject('bad-frame', `${type}: "payload" must be an object`)
      if (type === 'telemetry') {
        const names = Object.keys(raw.payload)
        if (names.length === 0) return reject('bad-frame', 'telemetry: empty payload')
        const bad = names.find((n) => !NAME_PATTERN.test(n))
        if (bad !== undefined) return reject('bad-frame', `telemetry: bad reading name ${JSON.stringify(bad).slice(0, 80)}`)
      }
      return { kind: 'frame', frame: { type: type as 'hello' | 'state' | 'telemetry', ...header, payload: raw.payload }, skippedBytes: 0 }
    }
    case 'event':
      if (typeof raw.name !== 'string' || !NAME_PATTERN.test(raw.name)) return reject('bad-frame', 'event: "name" must match [A-Za-z0-9_.-]{1,64}')
      return { kind: 'frame', frame: { type: 'event', ...header, name: raw.name, payload: raw.payload ?? null }, skippedBytes: 0 }
    case 'response': {
      if (typeof raw.id !== 'string' || !ID_PATTERN.test(raw.id)) return reject('bad-frame', 'response: "id" must be 1-64 printable characters')
      const ok = raw.ok === undefined ? true : raw.ok
      if (typeof ok !== 'boolean') return reject('bad-frame', 'response: "ok" must be a boolean')
      const error = typeof raw.error === 'string' ? { error: raw.error.slice(0, 256) } : {}
      return { kind: 'frame', frame: { type: 'response', ...header, id: raw.id, ok, payload: raw.payload ?? null, ...error }, skippedBytes: 0 }
    }
  }
}
