import { describe, expect, it } from 'vitest'
import mqttPacket from 'mqtt-packet'
import { FrameScanner } from '../../hub/src/mqtt/frame-guard.js'
import { CORPUS, connectFields, frame } from '../helpers/mqtt-corpus.js'

const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c1', clean: true, keepalive: 30 })
const publish = (bytes: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(bytes), qos: 0, retain: false, dup: false })
const ping = mqttPacket.generate({ cmd: 'pingreq' })
const connect31 = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'c1', clean: true, keepalive: 30 })

/** A copy of `packet` with the protocol level byte (at `offset`: header 2 + name 2 + "MQTT") set. */
function withLevel(packet: Buffer, level: number, offset = 8): Buffer {
  const copy = Buffer.from(packet)
  copy[offset] = level
  return copy
}

function scanAll(max: number, chunks: Buffer[]): string | undefined {
  const s = new FrameScanner(max)
  for (const c of chunks) {
    const r = s.scan(c)
    if (r) return r
  }
  return undefined
}

/** Splits a buffer into pieces of `size` bytes, to exercise headers split across reads. */
function bytewise(buf: Buffer, size = 1): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

describe('FrameScanner', () => {
  it.each([
    ['connect then publishes', [connect, publish(10), ping], 1024, undefined],
    ['whole stream in one chunk', [Buffer.concat([connect, publish(100), publish(0), ping])], 1024, undefined],
    ['byte by byte', bytewise(Buffer.concat([connect, publish(300), ping])), 1024, undefined],
    ['publish first', [publish(1)], 1024, 'first-packet-not-connect'],
    ['CONNECT with flags set', [Buffer.from([0x11, 0x00])], 1024, 'first-packet-not-connect'],
    ['second CONNECT', [connect, connect], 1024, 'second-connect'],
    ['reserved type 0', [connect, Buffer.from([0x00, 0x00])], 1024, 'reserved-packet-type'],
    ['reserved type 15', [connect, Buffer.from([0xf0, 0x00])], 1024, 'reserved-packet-type'],
    ['five-byte remaining length', [connect, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])], 1 << 30, 'malformed-remaining-length'],
    ['oversized publish', [connect, publish(2000)], 1024, 'packet-too-large'],
    ['oversized header only, body never sent', [connect, publish(2000).subarray(0, 4)], 1024, 'packet-too-large'],
    ['exactly the limit', [connect, publish(1024 - 6)], 1024, undefined],
    ['one byte over the limit', [connect, publish(1024 - 5)], 1024, 'packet-too-large'],
    ['268 MB claim in the first packet', [Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])], 1 << 20, 'first-packet-not-connect'],
    ['268 MB CONNECT', [Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])], 1 << 20, 'packet-too-large'],
    ['protocol level 6', [withLevel(connect, 6)], 1024, 'unacceptable-protocol-level'],
    ['protocol level 2, byte by byte', bytewise(withLevel(connect, 2)), 1024, 'unacceptable-protocol-level'],
    ['protocol level 5 (aedes answers it)', [withLevel(connect, 5)], 1024, undefined],
    ['bridge flag on level 4 (0x84)', [withLevel(connect, 0x84)], 1024, undefined],
    ['MQTT 3.1 "MQIsdp" level 3, byte by byte', bytewise(connect31), 1024, undefined],
    ['MQTT 3.1 "MQIsdp" level 9', [withLevel(connect31, 9, 10)], 1024, 'unacceptable-protocol-level'],
    ['CONNECT body too short to hold a level', [Buffer.from([0x10, 0x03, 0x00, 0x04, 0x4d]), ping], 1024, undefined],
    ['unknown protocol name is left to the parser', [Buffer.from([0x10, 0x05, 0x00, 0x03, 0x41, 0x42, 0x43]), ping], 1024, undefined],
  ])('%s', (_name, chunks, max, expected) => {
    expect(scanAll(max, chunks)).toBe(expected)
  })

  it('counts packets across chunk boundaries', () => {
    const s = new FrameScanner(1 << 20)
    for (const c of bytewise(Buffer.concat([connect, publish(200), ping, publish(5)]), 7)) expect(s.scan(c)).toBeUndefined()
    expect(s.packets).toBe(4)
  })
})

// The packet rules (packet-rules.ts) on the malformed-MQTT corpus: the guard refuses exactly the
// cases counted under one of its own reasons, with that reason, whether the bytes come in one
// read or one byte at a time (a field split across reads must be judged the same), and lets the
// rest through to the parser and aedes.
const GUARD_REASONS = new Set(['first-packet-not-connect', 'second-connect', 'reserved-packet-type', 'malformed-remaining-length', 'packet-too-large', 'unacceptable-protocol-level',
  'unexpected-packet-type', 'unexpected-body', 'dup-on-qos0', 'invalid-utf8', 'nul-character', 'packet-id-zero', 'missing-packet-id', 'bad-connect-flags', 'bad-will-topic', 'trailing-bytes', 'bad-unsubscribe'])

describe('FrameScanner on the malformed-MQTT corpus', () => {
  it.each(CORPUS.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const stream = c.start === 'fresh' ? c.bytes : Buffer.concat([connect, c.bytes])
    const expected = c.counted.metric === 'ringhub_protocol_errors_total' && GUARD_REASONS.has(c.counted.label) ? c.counted.label : undefined
    expect(scanAll(1 << 20, [stream]), 'one read').toBe(expected)
    expect(scanAll(1 << 20, bytewise(stream)), 'byte by byte').toBe(expected)
    expect(scanAll(1 << 20, bytewise(stream, 3)), 'three bytes at a time').toBe(expected)
  })

  it.each([
    ['QoS 1 publish with a 300-byte UTF-8 topic, byte by byte', bytewise(Buffer.concat([connect, mqttPacket.generate({ cmd: 'publish', topic: 'é/'.repeat(100), payload: Buffer.alloc(50), qos: 1, messageId: 7, retain: false, dup: false }), ping]))],
    ['QoS 2 publish, topic and id split over reads', bytewise(Buffer.concat([connect, mqttPacket.generate({ cmd: 'publish', topic: '温度/a', payload: Buffer.from('x'), qos: 2, messageId: 65535, retain: true, dup: true })]), 2)],
    ['subscribe with three filters, byte by byte', bytewise(Buffer.concat([connect, mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+', qos: 0 }, { topic: 'b/#', qos: 1 }, { topic: 'ü', qos: 2 }] })]))],
    ['unsubscribe, byte by byte', bytewise(Buffer.concat([connect, mqttPacket.generate({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+', 'b'] })]))],
    ['CONNECT with will, user name and password, byte by byte', bytewise(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ç', clean: true, keepalive: 5, will: { topic: 'w/ü', payload: Buffer.from([0, 0xff]), qos: 2, retain: true }, username: 'u', password: Buffer.from([0, 0xff]) }))],
    ['MQTT 3.1 CONNECT with a password and no user name (allowed in 3.1)', [frame(0x10, ...connectFields({ protocolName: 'MQIsdp', level: 3, clientId: 'c', password: 'pw' }).map(([, b]) => b))]],
    ['publish with an empty payload and U+FFFF in the topic', [connect, mqttPacket.generate({ cmd: 'publish', topic: 'a/\uffff', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false })]],
  ])('lets valid traffic through: %s', (_name, chunks) => {
    expect(scanAll(1 << 20, chunks)).toBeUndefined()
  })

  it.each(CORPUS.map((c) => [c.name, c.spec] as const))('%s names a spec clause or a documented rule', (_name, spec) => {
    expect(spec).toMatch(/\[MQTT-[\d.-]+\]|\[MQTT-[\d.]+\]|docs\/mqtt\.md|MQTT-/)
  })
})
