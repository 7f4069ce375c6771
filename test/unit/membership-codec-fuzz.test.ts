import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { decodePacket, encodeCompound, encodePacket } from '../../hub/src/membership/codec.js'
import { seededRng } from '../../hub/src/base/rng.js'

/** The hub's seeded mulberry32, as a bare float source. */
const rng = (seed: number): (() => number) => seededRng(seed).next

const addresses = { gossip: '10.0.0.1:7946', mqtt: '10.0.0.1:1883' }
const meta = { version: '0.1.0', role: 'hub' as const }
const VALID = [
  encodePacket({ type: 'ping', seq: 42, target: 'h2', from: 'h1', fromAddr: '10.0.0.1:7946' }),
  encodePacket({ type: 'indirect-ping', seq: 43, target: 'h3', targetAddr: '10.0.0.3:7946', nack: true, from: 'h1', fromAddr: '10.0.0.1:7946' }),
  encodePacket({ type: 'ack', seq: 42, payload: Uint8Array.of(1, 2, 3, 4) }),
  encodePacket({ type: 'nack', seq: 43 }),
  encodePacket({ type: 'alive', incarnation: 7, node: 'h1', addresses, meta }),
  encodePacket({ type: 'suspect', incarnation: 7, node: 'h2', from: 'h1' }),
  encodePacket({ type: 'dead', incarnation: 7, node: 'h2', from: 'h2' }),
  encodePacket({
    type: 'push-pull', join: true, members: [
      { id: 'h1', incarnation: 1, state: 'alive', addresses, meta },
      { id: 'h2', incarnation: 9, state: 'left', addresses, meta },
    ],
  }),
]
VALID.push(encodeCompound(VALID.slice(0, 7), 1400).packet!)

/** Decodes and reports what happened; anything but success or a ProtocolError fails the test. */
function outcome(bytes: Uint8Array, context: string): 'ok' | 'rejected' {
  try {
    decodePacket(bytes, { maxBytes: 1400 })
    return 'ok'
  } catch (error) {
    if (error instanceof ProtocolError) return 'rejected'
    throw new Error(`${context}: ${String(error)} on ${Buffer.from(bytes).toString('hex')}`, { cause: error })
  }
}

function mutate(next: () => number, source: Uint8Array): Uint8Array {
  const bytes = Array.from(source)
  const edits = 1 + Math.floor(next() * 4)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (bytes.length + 1))
    const byte = Math.floor(next() * 256)
    switch (Math.floor(next() * 6)) {
      case 0: bytes[at] = byte; break // overwrite
      case 1: bytes.splice(at, 0, byte); break // insert
      case 2: bytes.splice(at, 1); break // delete
      case 3: bytes.length = at; break // truncate
      case 4: bytes[at] = (bytes[at] ?? 0) ^ (1 << Math.floor(next() * 8)); break // bit flip
      default: bytes.splice(at, 0, ...[0xdc, 0xff, 0xff, 0xdd, 0xde, 0xc4, 0xc5, 0xd4, 0xc7].slice(byte % 9, byte % 9 + 2)) // msgpack headers
    }
  }
  if (next() < 0.8 && bytes.length > 0) bytes[0] = 1 // mostly keep the version, to get past it
  return Uint8Array.from(bytes.map((b) => b & 0xff))
}

describe('codec fuzz: decode either succeeds or throws ProtocolError', () => {
  const SEED = 0x5eed_0001

  it(`random bytes (seed ${SEED})`, () => {
    const next = rng(SEED)
    const counts = { ok: 0, rejected: 0 }
    for (let i = 0; i < 5000; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256))
      if (bytes.length > 1 && next() < 0.7) {
        bytes[0] = 1
        bytes[1] = Math.floor(next() * 10)
      }
      counts[outcome(bytes, `seed ${SEED} case ${i}`)]++
    }
    expect(counts.rejected).toBeGreaterThan(0)
  })

  it(`mutations of valid packets (seed ${SEED + 1})`, () => {
    const next = rng(SEED + 1)
    const counts = { ok: 0, rejected: 0 }
    for (let i = 0; i < 10_000; i++) {
      const source = VALID[i % VALID.length] as Uint8Array
      counts[outcome(mutate(next, source), `seed ${SEED + 1} case ${i}`)]++
    }
    // Both outcomes occur: some mutations land in string contents and still decode.
    expect(counts.ok).toBeGreaterThan(0)
    expect(counts.rejected).toBeGreaterThan(0)
  })

  it('every valid packet still decodes', () => {
    for (const packet of VALID) expect(outcome(packet, 'valid')).toBe('ok')
  })
})
