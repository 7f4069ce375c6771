import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ConfigError, ProtocolError } from '../../hub/src/base/errors.js'
import { decodePacket, encodePacket } from '../../hub/src/membership/codec.js'
import { Keyring, KeyringError } from '../../hub/src/membership/keyring.js'
import { PacketSecurity } from '../../hub/src/membership/security.js'
import { seededRng } from '../../hub/src/base/rng.js'

/** Deterministic 32-byte test keys. */
const key = (name: string) => new Uint8Array(createHash('sha256').update(name).digest())
const k1 = key('k1')
const k2 = key('k2')
const k3 = key('k3')

const packet = encodePacket({ type: 'suspect', incarnation: 4, node: 'h2', from: 'h1' })

/** Bytes as hex: Buffers and plain Uint8Arrays compare equal, and failures read well. */
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')

function reasonOf(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason
    throw error
  }
  return 'ok'
}

/** The hub's seeded mulberry32, as a bare float source. */
const rng = (seed: number): (() => number) => seededRng(seed).next

describe('Keyring', () => {
  it('keeps the primary first, installs idempotently, and hands out copies', () => {
    const ring = new Keyring([k1, k2])
    ring.install(k2)
    expect(ring.keys).toEqual([k1, k2])
    expect(ring.primary).toEqual(k1)
    ring.primary.fill(0)
    ring.keys[0]!.fill(0)
    expect(ring.primary).toEqual(k1)
  })

  it('takes a separate primary key, installing it', () => {
    expect(new Keyring([k1], k2).keys).toEqual([k2, k1])
  })

  it('copies keys in', () => {
    const mine = Uint8Array.from(k1)
    const ring = new Keyring([mine])
    mine.fill(0)
    expect(ring.primary).toEqual(k1)
  })

  it('install → use → remove', () => {
    const ring = new Keyring([k1])
    ring.install(k2)
    ring.use(k2)
    expect(ring.keys).toEqual([k2, k1])
    ring.remove(k1)
    expect(ring.keys).toEqual([k2])
    ring.remove(k3) // not installed: nothing to do
    expect(ring.keys).toEqual([k2])
  })

  it.each<[string, (ring: Keyring) => void]>([
    ['removing the primary key', (ring) => ring.remove(k1)],
    ['using a key that is not installed', (ring) => ring.use(k3)],
    ['installing a 16-byte key', (ring) => ring.install(new Uint8Array(16))],
    ['installing a 33-byte key', (ring) => ring.install(new Uint8Array(33))],
  ])('refuses %s', (_label, action) => {
    const ring = new Keyring([k1, k2])
    expect(() => action(ring)).toThrow(KeyringError)
    expect(ring.keys).toEqual([k1, k2])
  })

  it('refuses an empty keyring', () => {
    expect(() => new Keyring([])).toThrow(KeyringError)
  })
})

describe('PacketSecurity', () => {
  it('without label or keyring passes packets through', () => {
    const security = new PacketSecurity()
    expect(security.overheadBytes).toBe(0)
    expect(hex(security.seal(packet))).toBe(hex(packet))
    expect(hex(security.open(packet))).toBe(hex(packet))
  })

  it('carries the label in clear when encryption is off: [0xF4][length][label][packet]', () => {
    const security = new PacketSecurity({ label: 'plant-7' })
    const sealed = security.seal(packet)
    expect(Array.from(sealed.subarray(0, 9))).toEqual([0xf4, 7, ...Buffer.from('plant-7')])
    expect(hex(sealed.subarray(9))).toBe(hex(packet))
    expect(security.overheadBytes).toBe(9)
    expect(hex(security.open(sealed))).toBe(hex(packet))
  })

  it('encrypts as [0xE1][nonce 12][ciphertext][tag 16]', () => {
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1)
    const security = new PacketSecurity({ keyring: new Keyring([k1]), randomBytes: () => nonce })
    const sealed = security.seal(packet)
    expect(sealed.byteLength).toBe(packet.byteLength + 29)
    expect(security.overheadBytes).toBe(29)
    expect(sealed[0]).toBe(0xe1)
    expect(hex(sealed.subarray(1, 13))).toBe(hex(nonce))
    expect(Buffer.from(sealed).includes(Buffer.from(packet))).toBe(false)
    expect(hex(security.open(sealed))).toBe(hex(packet))
  })

  it('round-trips with label and encryption, through the codec', () => {
    const message = { type: 'alive', incarnation: 2, node: 'h1', addresses: { gossip: 'a:1' }, meta: { version: '1', role: 'hub' } } as const
    const security = new PacketSecurity({ label: 'ring-a', keyring: new Keyring([k1]) })
    const sealed = security.seal(encodePacket(message))
    expect(sealed.byteLength).toBe(encodePacket(message).byteLength + security.overheadBytes)
    expect(decodePacket(security.open(sealed))).toEqual(message)
  })

  it('uses a fresh nonce per packet', () => {
    const security = new PacketSecurity({ keyring: new Keyring([k1]) })
    expect(security.seal(packet)).not.toEqual(security.seal(packet))
  })

  it('rotates keys without a gap: install → use → remove', () => {
    const a = new Keyring([k1])
    const b = new Keyring([k1])
    const sendA = new PacketSecurity({ keyring: a })
    const recvB = new PacketSecurity({ keyring: b })
    const oldPacket = sendA.seal(packet)

    a.install(k2)
    b.install(k2)
    expect(hex(recvB.open(sendA.seal(packet)))).toBe(hex(packet)) // still sent under k1
    a.use(k2)
    const newPacket = sendA.seal(packet)
    expect(hex(recvB.open(newPacket))).toBe(hex(packet)) // k2, installed on b though k1 is its primary
    expect(hex(recvB.open(oldPacket))).toBe(hex(packet)) // k1 packets still readable
    b.use(k2)
    b.remove(k1)
    expect(reasonOf(() => recvB.open(oldPacket))).toBe('auth-failed')
    expect(hex(recvB.open(newPacket))).toBe(hex(packet))
  })

  it.each<[string, () => Uint8Array, PacketSecurity, string]>([
    ['another key', () => new PacketSecurity({ keyring: new Keyring([k2]) }).seal(packet), new PacketSecurity({ keyring: new Keyring([k1, k3]) }), 'auth-failed'],
    ['a plain packet while encryption is on', () => packet, new PacketSecurity({ keyring: new Keyring([k1]) }), 'auth-failed'],
    ['an encrypted packet while encryption is off', () => new PacketSecurity({ keyring: new Keyring([k1]) }).seal(packet), new PacketSecurity(), 'auth-failed'],
    ['another label (plain)', () => new PacketSecurity({ label: 'a' }).seal(packet), new PacketSecurity({ label: 'b' }), 'label-mismatch'],
    ['another label (encrypted)', () => new PacketSecurity({ label: 'a', keyring: new Keyring([k1]) }).seal(packet), new PacketSecurity({ label: 'b', keyring: new Keyring([k1]) }), 'label-mismatch'],
    ['a label where none is set', () => new PacketSecurity({ label: 'a' }).seal(packet), new PacketSecurity(), 'label-mismatch'],
    ['no label where one is set', () => packet, new PacketSecurity({ label: 'a' }), 'label-mismatch'],
    ['an empty packet', () => new Uint8Array(0), new PacketSecurity(), 'malformed'],
    ['a label header alone', () => Uint8Array.of(0xf4, 1, 0x61), new PacketSecurity({ label: 'a' }), 'malformed'],
    ['a label header of length 0', () => Uint8Array.of(0xf4, 0, 1, 2, 3), new PacketSecurity(), 'malformed'],
    ['a label header longer than the packet', () => Uint8Array.of(0xf4, 9, 0x61), new PacketSecurity({ label: 'a' }), 'malformed'],
    ['a truncated label header', () => Uint8Array.of(0xf4), new PacketSecurity(), 'malformed'],
    ['an encrypted packet shorter than nonce and tag', () => Uint8Array.of(0xe1, ...new Uint8Array(27)), new PacketSecurity({ keyring: new Keyring([k1]) }), 'malformed'],
  ])('refuses %s → %s', (_label, make, receiver, reason) => {
    expect(reasonOf(() => receiver.open(make()))).toBe(reason)
  })

  it('binds the label: an encrypted packet re-labelled in flight fails authentication', () => {
    const sealed = new PacketSecurity({ label: 'ring-a', keyring: new Keyring([k1]) }).seal(packet)
    sealed.set(Buffer.from('ring-b'), 2)
    expect(reasonOf(() => new PacketSecurity({ label: 'ring-b', keyring: new Keyring([k1]) }).open(sealed))).toBe('auth-failed')
  })

  it('refuses every single-byte change of an encrypted packet', () => {
    const security = new PacketSecurity({ label: 'ring-a', keyring: new Keyring([k1]) })
    const sealed = security.seal(packet)
    const reasons = new Set<string>()
    for (let i = 0; i < sealed.byteLength; i++) {
      const tampered = Uint8Array.from(sealed)
      tampered[i] = (tampered[i] as number) ^ 0x01
      const reason = reasonOf(() => security.open(tampered))
      expect(reason, `byte ${i}`).not.toBe('ok')
      if (i >= 8) expect(reason, `byte ${i}`).toBe('auth-failed') // after [0xF4][6]['ring-a']
      reasons.add(reason)
    }
    expect([...reasons].sort()).toEqual(['auth-failed', 'label-mismatch'])
  })

  it('refuses every truncation of an encrypted packet', () => {
    const security = new PacketSecurity({ keyring: new Keyring([k1]) })
    const sealed = security.seal(packet)
    for (let length = 0; length < sealed.byteLength; length++) {
      expect(reasonOf(() => security.open(sealed.subarray(0, length))), `length ${length}`)
        .toBe(length === 0 || length > 0 && length < 29 ? 'malformed' : 'auth-failed')
    }
  })

  it('refuses a label over 255 bytes', () => {
    expect(() => new PacketSecurity({ label: 'é'.repeat(128) })).toThrow(ConfigError)
    expect(new PacketSecurity({ label: 'x'.repeat(255) }).overheadBytes).toBe(257)
  })

  it('open() throws only ProtocolError on random input (seed 0x5ec)', () => {
    const next = rng(0x5ec)
    const receivers = [
      new PacketSecurity(),
      new PacketSecurity({ label: 'a' }),
      new PacketSecurity({ keyring: new Keyring([k1]) }),
      new PacketSecurity({ label: 'a', keyring: new Keyring([k1, k2]) }),
    ]
    for (let i = 0; i < 4000; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(next() * 80) }, () => Math.floor(next() * 256))
      if (bytes.length > 0 && next() < 0.5) bytes[0] = [0xf4, 0xe1, 0x01][Math.floor(next() * 3)] as number
      if (bytes.length > 3 && bytes[0] === 0xf4 && next() < 0.5) { bytes[1] = 1; bytes[2] = 0x61; bytes[3] = 0xe1 }
      const receiver = receivers[i % receivers.length] as PacketSecurity
      expect(reasonOf(() => receiver.open(bytes)), `case ${i}`).toMatch(/^(ok|auth-failed|label-mismatch|malformed)$/)
    }
  })
})
