import { encode as pack } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { BroadcastQueue } from '../../hub/src/membership/broadcast-queue.js'
import {
  COMPOUND_HEADER_BYTES, COMPOUND_PART_OVERHEAD_BYTES, decodePacket, encodeCompound, encodePacket,
} from '../../hub/src/membership/codec.js'
import { MESSAGE_TYPE_CODES, PROTOCOL_VERSION, type SimpleMessage } from '../../hub/src/membership/messages.js'

const addresses = { gossip: '10.0.0.1:7946', mqtt: '10.0.0.1:1883', admin: '10.0.0.1:8080', interHub: '10.0.0.1:7947' }
const meta = { version: '0.1.0', role: 'hub' as const, zone: 'hall-2' }

const SAMPLES: SimpleMessage[] = [
  { type: 'ping', seq: 1, target: 'h2', from: 'h1', fromAddr: '10.0.0.1:7946' },
  { type: 'ping', seq: 0xffff_ffff, target: 'h2', from: 'h1', fromAddr: '[::1]:7946' },
  { type: 'indirect-ping', seq: 7, target: 'h3', targetAddr: '10.0.0.3:7946', nack: true, from: 'h1', fromAddr: '10.0.0.1:7946' },
  { type: 'indirect-ping', seq: 8, target: 'h3', targetAddr: '10.0.0.3:7946', nack: false, from: 'h1', fromAddr: '10.0.0.1:7946' },
  { type: 'ack', seq: 7 },
  { type: 'ack', seq: 9, payload: Uint8Array.of(1, 2, 3) },
  { type: 'nack', seq: 7 },
  { type: 'alive', incarnation: 3, node: 'h1', addresses, meta },
  { type: 'alive', incarnation: Number.MAX_SAFE_INTEGER, node: 'observer-😀', addresses: { gossip: 'a:1' }, meta: { version: '', role: 'observer' } },
  { type: 'suspect', incarnation: 4, node: 'h2', from: 'h1' },
  { type: 'dead', incarnation: 4, node: 'h2', from: 'h1' },
  { type: 'dead', incarnation: 5, node: 'h2', from: 'h2' },
  { type: 'push-pull', join: true, members: [] },
  {
    type: 'push-pull', join: false, members: [
      { id: 'h1', incarnation: 1, state: 'alive', addresses, meta },
      { id: 'h2', incarnation: 2, state: 'suspect', addresses: { gossip: 'b:2' }, meta: { version: '0.1.0', role: 'hub' } },
      { id: 'h3', incarnation: 3, state: 'dead', addresses: { gossip: 'c:3' }, meta: { version: '0.1.0', role: 'hub' } },
      { id: 'h4', incarnation: 4, state: 'left', addresses: { gossip: 'd:4' }, meta: { version: '0.1.0', role: 'observer' } },
    ],
  },
]


/** A packet with a hand-made body: [version][type code][msgpack of body]. */
function raw(type: keyof typeof MESSAGE_TYPE_CODES | number, body: unknown, version = PROTOCOL_VERSION): Uint8Array {
  const code = typeof type === 'number' ? type : MESSAGE_TYPE_CODES[type]
  return Uint8Array.from([version, code, ...pack(body)])
}

function reasonOf(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason
    throw error
  }
  throw new Error('expected a ProtocolError')
}

describe('codec round trip', () => {
  it.each(SAMPLES.map((m) => [m.type, m] as const))('%s', (_type, message) => {
    const packet = encodePacket(message)
    expect(packet[0]).toBe(PROTOCOL_VERSION)
    expect(packet[1]).toBe(MESSAGE_TYPE_CODES[message.type])
    expect(decodePacket(packet)).toEqual(message)
  })

  it('keeps message types append-only: the codes are fixed', () => {
    expect(MESSAGE_TYPE_CODES).toEqual({ 'ping': 0, 'indirect-ping': 1, 'ack': 2, 'nack': 3, 'alive': 4, 'suspect': 5, 'dead': 6, 'compound': 7, 'push-pull': 8 })
  })

  it('ignores fields it does not know (a newer hub appended them)', () => {
    expect(decodePacket(raw('nack', { seq: 3, reason: 'timeout', extra: [1, 2] }))).toEqual({ type: 'nack', seq: 3 })
  })

  it('decodes an unknown type to a distinct result', () => {
    expect(decodePacket(raw(200, { anything: 1 }))).toEqual({ type: 'unknown', code: 200, bodyBytes: 11 })
    expect(decodePacket(Uint8Array.of(PROTOCOL_VERSION, 9, 0xc1, 0xc1))).toEqual({ type: 'unknown', code: 9, bodyBytes: 2 })
  })

  it('a decoded ack payload is a copy, not a view into the packet', () => {
    const packet = encodePacket({ type: 'ack', seq: 1, payload: Uint8Array.of(5) })
    const decoded = decodePacket(packet)
    packet.fill(0)
    expect(decoded).toEqual({ type: 'ack', seq: 1, payload: Uint8Array.of(5) })
  })
})

describe('compound', () => {
  it('round-trips its parts, unknown ones included', () => {
    const parts = [...SAMPLES.slice(0, 12).map(encodePacket), raw(99, {})]
    const { packet, packed, left, oversize } = encodeCompound(parts, 1400)
    expect(packed).toHaveLength(parts.length)
    expect(left).toEqual([])
    expect(oversize).toEqual([])
    expect(packet!.byteLength).toBeLessThanOrEqual(1400)
    expect(decodePacket(packet!)).toEqual({ type: 'compound', parts: [...SAMPLES.slice(0, 12), { type: 'unknown', code: 99, bodyBytes: 1 }] })
  })

  it('packs as many as fit, in order, and leaves the rest', () => {
    const parts = Array.from({ length: 20 }, (_, i) => encodePacket({ type: 'alive', incarnation: i, node: `hub-${i}`, addresses, meta }))
    const { packet, packed, left } = encodeCompound(parts, 1400)
    expect(packet!.byteLength).toBeLessThanOrEqual(1400)
    expect([...packed, ...left]).toEqual(parts)
    expect(packed.length).toBeGreaterThan(1)
    // the next part would not have fit
    const withOneMore = encodeCompound([...packed, left[0]!], 1_000_000).packet!
    expect(withOneMore.byteLength).toBeGreaterThan(1400)
  })

  it('skips a part that does not fit to take a smaller one after it', () => {
    const big = encodePacket({ type: 'ack', seq: 1, payload: new Uint8Array(500) })
    const small = encodePacket({ type: 'nack', seq: 2 })
    const { packed, left } = encodeCompound([big, big, small], 800)
    expect(packed).toEqual([big, big, small].filter((_, i) => i !== 1))
    expect(left).toEqual([big])
  })

  it('reports parts too large for any compound, and returns no packet when nothing fits', () => {
    const huge = encodePacket({ type: 'ack', seq: 1, payload: new Uint8Array(500) })
    expect(encodeCompound([huge], 400)).toEqual({ packet: undefined, packed: [], left: [], oversize: [huge] })
    expect(encodeCompound([], 1400).packet).toBeUndefined()
  })

  it('stops at 255 parts', () => {
    const parts = Array.from({ length: 300 }, (_, i) => encodePacket({ type: 'nack', seq: i }))
    const { packet, packed, left } = encodeCompound(parts, 65_536)
    expect(packed).toHaveLength(255)
    expect(left).toHaveLength(45)
    expect((decodePacket(packet!) as { parts: unknown[] }).parts).toHaveLength(255)
  })

  it('the broadcast queue budget (part overhead, header) always fits one compound', () => {
    const queue = new BroadcastQueue({ retransmitMult: 4, numMembers: () => 50 })
    for (let i = 0; i < 60; i++) queue.enqueue(`hub-${i}`, encodePacket({ type: 'alive', incarnation: i, node: `hub-${i}`, addresses, meta }))
    for (let i = 0; i < 40; i++) queue.enqueue(`x-${i}`, encodePacket({ type: 'suspect', incarnation: i, node: `x-${i}`, from: 'h1' }))
    for (let round = 0; round < 5; round++) {
      const messages = queue.getBroadcasts(COMPOUND_PART_OVERHEAD_BYTES, 1400 - COMPOUND_HEADER_BYTES)
      const { packet, left } = encodeCompound(messages, 1400)
      expect(left).toEqual([])
      expect(packet!.byteLength).toBeLessThanOrEqual(1400)
    }
  })
})

const tooLong = (n: number) => 'x'.repeat(n)
const ping = { seq: 1, target: 'h2', from: 'h1', fromAddr: 'a:1' }
const alive = { inc: 1, node: 'h1', addrs: { gossip: 'a:1' }, meta: { version: '1', role: 'hub' } }
const member = { id: 'h1', inc: 1, state: 'alive', addrs: { gossip: 'a:1' }, meta: { version: '1', role: 'hub' } }
const validPing = encodePacket({ type: 'ping', ...ping })

describe('codec rejects malformed input with a ProtocolError', () => {
  it.each<[string, string, () => Uint8Array, number?]>([
    ['empty', 'truncated', () => new Uint8Array(0)],
    ['version only', 'truncated', () => Uint8Array.of(1)],
    ['no body', 'truncated', () => Uint8Array.of(1, 0)],
    ['version 0', 'version', () => raw('ping', ping, 0)],
    ['version 2', 'version', () => raw('ping', ping, 2)],
    ['a label header (0xF4) reaching the codec', 'version', () => raw('ping', ping, 0xf4)],
    ['an encrypted envelope (0xE1) reaching the codec', 'version', () => raw('ping', ping, 0xe1)],
    ['over maxBytes', 'oversize', () => new Uint8Array(1401).fill(1), 1400],
    ['body cut short', 'truncated', () => validPing.subarray(0, validPing.byteLength - 3)],
    ['trailing bytes after the body', 'bad-msgpack', () => Uint8Array.from([...validPing, 0])],
    ['structured-clone pointer extension', 'bad-field', () => Uint8Array.of(1, 0, 0xd6, 0x70, 0, 0, 0, 1)],
    ['body is an array', 'bad-field', () => raw('ping', [1, 'h2'])],
    ['body is a string', 'bad-field', () => raw('nack', 'seq')],
    ['body is nil', 'bad-field', () => raw('nack', null)],
    ['body is msgpack 0xC1 (never used)', 'bad-msgpack', () => Uint8Array.of(1, 3, 0xc1)],
    ['ping without seq', 'bad-field', () => raw('ping', { ...ping, seq: undefined })],
    ['ping seq negative', 'bad-field', () => raw('ping', { ...ping, seq: -1 })],
    ['ping seq beyond uint32', 'bad-field', () => raw('ping', { ...ping, seq: 2 ** 32 })],
    ['ping seq fractional', 'bad-field', () => raw('ping', { ...ping, seq: 1.5 })],
    ['ping seq a string', 'bad-field', () => raw('ping', { ...ping, seq: '1' })],
    ['ping seq a uint64', 'bad-field', () => Uint8Array.from([PROTOCOL_VERSION, MESSAGE_TYPE_CODES.ping, ...pack({ ...ping, seq: 2n ** 60n }, { useBigInt64: true })])],
    ['ping empty target', 'bad-field', () => raw('ping', { ...ping, target: '' })],
    ['ping target too long', 'oversize', () => raw('ping', { ...ping, target: tooLong(129) })],
    ['ping fromAddr a number', 'bad-field', () => raw('ping', { ...ping, fromAddr: 7946 })],
    ['ping fromAddr too long', 'oversize', () => raw('ping', { ...ping, fromAddr: tooLong(300) })],
    ['indirect-ping nack a string', 'bad-field', () => raw('indirect-ping', { ...ping, targetAddr: 'b:2', nack: 'yes' })],
    ['indirect-ping without targetAddr', 'bad-field', () => raw('indirect-ping', { ...ping, nack: true })],
    ['ack payload a string', 'bad-field', () => raw('ack', { seq: 1, payload: 'abc' })],
    ['ack payload too large', 'oversize', () => raw('ack', { seq: 1, payload: new Uint8Array(513) })],
    ['alive incarnation negative', 'bad-field', () => raw('alive', { ...alive, inc: -1 })],
    ['alive incarnation beyond 2^53', 'bad-field', () => raw('alive', { ...alive, inc: 2 ** 53 })],
    ['alive addrs without gossip', 'bad-field', () => raw('alive', { ...alive, addrs: { mqtt: 'a:1' } })],
    ['alive addrs an array', 'bad-field', () => raw('alive', { ...alive, addrs: ['a:1'] })],
    ['alive addrs.mqtt empty', 'bad-field', () => raw('alive', { ...alive, addrs: { gossip: 'a:1', mqtt: '' } })],
    ['alive meta without role', 'bad-field', () => raw('alive', { ...alive, meta: { version: '1' } })],
    ['alive meta with an unknown role', 'bad-field', () => raw('alive', { ...alive, meta: { version: '1', role: 'king' } })],
    ['alive meta value a number', 'bad-field', () => raw('alive', { ...alive, meta: { version: '1', role: 'hub', zone: 3 } })],
    ['alive meta key __proto__', 'bad-msgpack', () => raw('alive', { ...alive, meta: JSON.parse('{"version":"1","role":"hub","__proto__":"x"}') })],
    ['alive meta key not an identifier', 'bad-field', () => raw('alive', { ...alive, meta: { 'version': '1', 'role': 'hub', 'a b': 'x' } })],
    ['alive meta with 17 fields', 'oversize', () => raw('alive', { ...alive, meta: { version: '1', role: 'hub', ...Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v'])) } })],
    ['alive meta value too long', 'oversize', () => raw('alive', { ...alive, meta: { version: tooLong(257), role: 'hub' } })],
    ['alive meta a date', 'bad-field', () => raw('alive', { ...alive, meta: new Date(0) })],
    ['suspect without from', 'bad-field', () => raw('suspect', { inc: 1, node: 'h2' })],
    ['dead node a map', 'bad-field', () => raw('dead', { inc: 1, node: { id: 'h2' }, from: 'h1' })],
    ['compound parts not an array', 'bad-field', () => raw('compound', { parts: 'x' })],
    ['compound part not bytes', 'bad-field', () => raw('compound', { parts: [1] })],
    ['compound inside a compound', 'nested-compound', () => raw('compound', { parts: [raw('compound', { parts: [] })] })],
    ['compound part with a bad version', 'version', () => raw('compound', { parts: [raw('nack', { seq: 1 }, 3)] })],
    ['compound part malformed', 'bad-field', () => raw('compound', { parts: [encodePacket({ type: 'nack', seq: 1 }), raw('nack', { seq: -1 })] })],
    ['compound with 256 parts', 'oversize', () => raw('compound', { parts: Array.from({ length: 256 }, () => encodePacket({ type: 'nack', seq: 1 })) })],
    ['push-pull join missing', 'bad-field', () => raw('push-pull', { members: [] })],
    ['push-pull members a map', 'bad-field', () => raw('push-pull', { join: true, members: { h1: member } })],
    ['push-pull member state unknown', 'bad-field', () => raw('push-pull', { join: true, members: [{ ...member, state: 'zombie' }] })],
    ['push-pull member not a map', 'bad-field', () => raw('push-pull', { join: true, members: ['h1'] })],
    ['push-pull member id empty', 'bad-field', () => raw('push-pull', { join: true, members: [{ ...member, id: '' }] })],
  ])('%s → %s', (_label, reason, make, maxBytes) => {
    expect(reasonOf(() => decodePacket(make(), maxBytes === undefined ? {} : { maxBytes }))).toBe(reason)
  })
})
