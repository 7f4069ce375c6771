import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../device-agent/src/protocol/line-splitter.js'
import { parseLine } from '../../device-agent/src/protocol/parse-line.js'
import { parseKeyValueLine } from '../../device-agent/src/protocol/key-value.js'
import { encodeCommand, encodeDeviceFrame } from '../../device-agent/src/protocol/frames.js'
import { seededRng } from '../../device-agent/src/base/rng.js'

function split(chunks: Array<string | Buffer>, maxLineBytes = 16): { lines: string[], drops: string[], droppedBytes: number, splitter: LineSplitter } {
  const r = { lines: [] as string[], drops: [] as string[], droppedBytes: 0, splitter: undefined as unknown as LineSplitter }
  r.splitter = new LineSplitter({ maxLineBytes, onLine: (l) => r.lines.push(l.toString('latin1')), onDrop: (d) => r.drops.push(d), onDroppedBytes: (n) => { r.droppedBytes += n } })
  for (const c of chunks) r.splitter.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c)
  return r
}

describe('LineSplitter', () => {
  it.each([
    ['one line', ['abc\n'], ['abc'], []],
    ['CRLF', ['abc\r\n'], ['abc'], []],
    ['split across chunks', ['a', 'b', 'c\nd', 'e\n'], ['abc', 'de'], []],
    ['several in one chunk', ['a\nb\n\nc\n'], ['a', 'b', '', 'c'], []],
    ['exactly the bound', ['0123456789abcdef\n'], ['0123456789abcdef'], []],
    ['one byte over the bound', ['0123456789abcdefX\n', 'ok\n'], ['ok'], ['overlong']],
    ['over-long across chunks, resync at the newline', ['0123456789', 'abcdefghij', 'klm\nok\n'], ['ok'], ['overlong']],
    ['bound plus CR still fits', ['0123456789abcdef\r\n'], ['0123456789abcdef'], []],
  ])('%s', (_name, chunks, lines, drops) => {
    const r = split(chunks)
    expect(r.lines).toEqual(lines)
    expect(r.drops).toEqual(drops)
  })

  it('holds at most one line while 1 MB without a newline goes by, and counts every byte of it', () => {
    const r = split([], 1024)
    const mb = Buffer.alloc(1024 * 1024, 0x41)
    for (let i = 0; i < mb.length; i += 4096) r.splitter.push(mb.subarray(i, i + 4096))
    r.splitter.push(Buffer.from('\n{"type":"x"}\n'))
    expect(r.drops).toEqual(['overlong'])
    expect(r.droppedBytes).toBe(1024 * 1024 + 1)
    expect(r.lines).toEqual(['{"type":"x"}'])
  })

  it('drops a partial line on request and counts it', () => {
    const r = split(['{"type":"tel'])
    expect(r.splitter.hasPartial).toBe(true)
    r.splitter.dropPartial()
    r.splitter.push(Buffer.from('ok\n'))
    expect(r.drops).toEqual(['partial'])
    expect(r.droppedBytes).toBe(12)
    expect(r.lines).toEqual(['ok'])
  })
})

const D = 'd42'
const frame = (line: string) => parseLine(Buffer.from(line, 'latin1'), D)

describe('parseLine', () => {
  it.each([
    ['telemetry', '{"type":"telemetry","device":"d42","seq":7,"payload":{"temp":21.5,"hum":40}}', { type: 'telemetry', device: 'd42', seq: 7, payload: { temp: 21.5, hum: 40 } }],
    ['no device, no seq', '{"type":"state","payload":{"relay":"on"}}', { type: 'state', payload: { relay: 'on' } }],
    ['event', '{"type":"event","name":"door","payload":{"open":true}}', { type: 'event', name: 'door', payload: { open: true } }],
    ['hello', '{"type":"hello","payload":{"fw":"1.0"}}', { type: 'hello', payload: { fw: '1.0' } }],
    ['response, ok by default', '{"type":"response","id":"c1","payload":{"x":1}}', { type: 'response', id: 'c1', ok: true, payload: { x: 1 } }],
    ['response with error', '{"type":"response","id":"c1","ok":false,"error":"nope"}', { type: 'response', id: 'c1', ok: false, payload: null, error: 'nope' }],
    ['type not first, no junk', '{"payload":{"t":1},"type":"telemetry"}', { type: 'telemetry', payload: { t: 1 } }],
    ['unknown extra fields are ignored', '{"type":"telemetry","payload":{"t":1},"crc":"ab"}', { type: 'telemetry', payload: { t: 1 } }],
  ])('accepts %s', (_name, line, expected) => {
    const r = frame(line)
    expect(r).toEqual({ kind: 'frame', frame: expected, skippedBytes: 0 })
  })

  it.each([
    ['noise', '\x00\x01\xff\xfe garbage', 'noise'],
    ['prose', 'booting...', 'noise'],
    ['bad JSON', '{"type":"telemetry","payload":{"t":1}', 'bad-json'],
    ['JSON that is no object', '{"type"', 'bad-json'],
    ['unknown type', '{"type":"selfdestruct","payload":{}}', 'unknown-type'],
    ['another device', '{"type":"telemetry","device":"d43","payload":{"t":1}}', 'wrong-device'],
    ['negative seq', '{"type":"telemetry","seq":-1,"payload":{"t":1}}', 'bad-frame'],
    ['telemetry without readings', '{"type":"telemetry","payload":{}}', 'bad-frame'],
    ['reading name with a slash', '{"type":"telemetry","payload":{"a/b":1}}', 'bad-frame'],
    ['reading name with a wildcard', '{"type":"telemetry","payload":{"#":1}}', 'bad-frame'],
    ['event without a name', '{"type":"event","payload":1}', 'bad-frame'],
    ['response without id', '{"type":"response","ok":true}', 'bad-frame'],
    ['ok that is no boolean', '{"type":"response","id":"c","ok":"yes"}', 'bad-frame'],
    ['bad key=value', 'temp=21.5 hum', 'bad-kv'],
    ['non-UTF-8 text', Buffer.from([0x74, 0x3d, 0xc3, 0x28]).toString('latin1'), 'noise'],
  ])('rejects %s', (_name, line, reason) => {
    const r = frame(line)
    expect(r.kind).toBe('rejected')
    expect(r.kind === 'rejected' && r.reason).toBe(reason)
  })

  it('ignores empty and blank lines', () => {
    expect(frame('')).toEqual({ kind: 'empty' })
    expect(frame('  \t ')).toEqual({ kind: 'empty' })
  })

  it('resyncs at {"type" after junk on the same line', () => {
    const r = frame('\x00\xffjunk{"type":"telemetry","payload":{"t":1}}')
    expect(r).toEqual({ kind: 'frame', frame: { type: 'telemetry', payload: { t: 1 } }, skippedBytes: 6 })
  })

  it('takes the newer frame when a partial one is cut off by it', () => {
    const r = frame('{"type":"telemetry","payl{"type":"telemetry","payload":{"t":2}}')
    expect(r.kind === 'frame' && r.frame).toEqual({ type: 'telemetry', payload: { t: 2 } })
    expect(r.kind === 'frame' && r.skippedBytes).toBe(25)
  })

  it('reads the key=value dialect as telemetry', () => {
    expect(frame('temp=21.5 hum=40,ok=true;state=idle')).toEqual({
      kind: 'frame', skippedBytes: 0, frame: { type: 'telemetry', payload: { temp: 21.5, hum: 40, ok: true, state: 'idle' } },
    })
  })

  it('a reading named __proto__ stays a reading', () => {
    const r = parseKeyValueLine('__proto__=1')
    expect('readings' in r && Object.keys(r.readings)).toEqual(['__proto__'])
  })

  it('random bytes never throw and never yield a frame of another device (seed printed)', () => {
    const seed = 0xc0ffee
    const rng = seededRng(seed)
    let frames = 0
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.alloc(1 + rng.int(200))
      for (let j = 0; j < bytes.length; j++) bytes[j] = rng.int(256)
      const r = parseLine(bytes, D)
      if (r.kind === 'frame') {
        frames++
        expect(r.frame.device ?? D, `seed ${seed}`).toBe(D)
      }
    }
    expect(frames, `seed ${seed}`).toBe(0)
  })

  it('round-trips what the firmware and the agent encode', () => {
    const line = encodeDeviceFrame({ type: 'event', device: D, seq: 3, name: 'door', payload: { open: true } })
    expect(line.toString().startsWith('{"type":"event"')).toBe(true)
    expect(frame(line.toString().trimEnd())).toEqual({ kind: 'frame', skippedBytes: 0, frame: { type: 'event', device: D, seq: 3, name: 'door', payload: { open: true } } })
    expect(JSON.parse(encodeCommand({ type: 'command', device: D, id: 'c1', name: 'ping', payload: null }).toString())).toEqual({ type: 'command', device: D, id: 'c1', name: 'ping', payload: null })
  })
})
