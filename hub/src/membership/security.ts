import { createCipheriv, createDecipheriv, randomBytes as cryptoRandomBytes } from 'node:crypto'
import { ConfigError, ProtocolError } from '../base/errors.js'
import type { Keyring } from './keyring.js'

/**
 * The envelope around every gossip packet (UDP datagram or TCP push-pull message), after
 * memberlist `label.go` and `security.go`:
 *
 *     [0xF4][label length: 1 byte, 1…255][label, UTF-8]     only when a cluster label is set
 *     then, with a keyring:
 *     [0xE1][nonce: 12 bytes][AES-256-GCM ciphertext of the packet][tag: 16 bytes]
 *     or, without one, the packet itself ([version 0x01][type][body], codec.ts).
 *
 * The additional authenticated data is every byte before the nonce (label header and 0xE1),
 * so a packet sealed for one cluster label, or re-labelled in flight, fails authentication.
 * Without encryption the label is carried in clear, as memberlist does: it keeps two rings on
 * one network apart, but is no defence against an attacker. The first byte tells the cases
 * apart: 0xF4 label (memberlist `hasLabelMsg` = 244), 0xE1 encrypted, 0x01… plain codec
 * versions. Opening fails only with `ProtocolError`, reason:
 * - 'label-mismatch': another label, a label where none is expected, or none where one is;
 * - 'auth-failed': no installed key authenticates it, it is plain while encryption is on, or
 *   encrypted while it is off;
 * - 'malformed': empty, too short, or a broken label header.
 */
export const LABEL_MARKER = 0xf4
export const ENCRYPTED_MARKER = 0xe1
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
export const MAX_LABEL_BYTES = 255

export type SecurityErrorReason = 'label-mismatch' | 'auth-failed' | 'malformed'

export interface PacketSecurityOptions {
  /** Cluster label, 1–255 bytes of UTF-8; '' or absent for none (memberlist `Config.Label`). */
  label?: string
  /** Encrypts and authenticates when present (memberlist `Config.Keyring`). */
  keyring?: Keyring
  /**
   * Source of nonces; default node:crypto `randomBytes`. Random 96-bit nonces are what
   * memberlist uses; a seeded generator here would repeat nonces, so tests only inject one to
   * check the format.
   */
  randomBytes?: (size: number) => Uint8Array
}

export class PacketSecurity {
  readonly #labelHeader: Uint8Array
  readonly #keyring: Keyring | undefined
  readonly #randomBytes: (size: number) => Uint8Array

  constructor(options: PacketSecurityOptions = {}) {
    const label = Buffer.from(options.label ?? '', 'utf8')
    if (label.byteLength > MAX_LABEL_BYTES) throw new ConfigError('gossip.label', `at most ${MAX_LABEL_BYTES} bytes of UTF-8`)
    this.#labelHeader = label.byteLength === 0 ? new Uint8Array(0) : Buffer.concat([Uint8Array.of(LABEL_MARKER, label.byteLength), label])
    this.#keyring = options.keyring
    this.#randomBytes = options.randomBytes ?? cryptoRandomBytes
  }

  /** Bytes `seal` adds to a packet: size gossip packets to `udpBytes − overheadBytes`. */
  get overheadBytes(): number {
    return this.#labelHeader.byteLength + (this.#keyring ? 1 + NONCE_BYTES + TAG_BYTES : 0)
  }

  /** Wraps an encoded packet for sending. */
  seal(packet: Uint8Array): Uint8Array {
    if (!this.#keyring) return concat(this.#labelHeader, packet)
    const aad = concat(this.#labelHeader, Uint8Array.of(ENCRYPTED_MARKER))
    const nonce = this.#randomBytes(NONCE_BYTES)
    if (nonce.byteLength !== NONCE_BYTES) throw new RangeError(`randomBytes returned ${nonce.byteLength} bytes, not ${NONCE_BYTES}`)
    const cipher = createCipheriv('aes-256-gcm', this.#keyring.primary, nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(aad)
    return Buffer.concat([aad, nonce, cipher.update(packet), cipher.final(), cipher.getAuthTag()])
  }

  /** Checks and unwraps a received envelope; returns the packet for `decodePacket`. */
  open(bytes: Uint8Array): Uint8Array {
    const offset = this.#checkLabel(bytes)
    if (bytes.byteLength <= offset) throw fail('malformed', 'no packet after the label')
    const marker = bytes[offset]
    if (!this.#keyring) {
      if (marker === ENCRYPTED_MARKER) throw fail('auth-failed', 'packet is encrypted but gossip encryption is off')
      return bytes.subarray(offset)
    }
    if (marker !== ENCRYPTED_MARKER) throw fail('auth-failed', 'packet is not encrypted but gossip encryption is on')
    if (bytes.byteLength < offset + 1 + NONCE_BYTES + TAG_BYTES) throw fail('malformed', 'encrypted packet too short')
    const aad = bytes.subarray(0, offset + 1)
    const nonce = bytes.subarray(offset + 1, offset + 1 + NONCE_BYTES)
    const ciphertext = bytes.subarray(offset + 1 + NONCE_BYTES, bytes.byteLength - TAG_BYTES)
    const tag = bytes.subarray(bytes.byteLength - TAG_BYTES)
    for (const key of this.#keyring.keys) {
      const plain = tryDecrypt(key, nonce, aad, ciphertext, tag)
      if (plain) return plain
    }
    throw fail('auth-failed', 'no installed key could decrypt the packet')
  }

  /** Returns the offset of what follows the label header. */
  #checkLabel(bytes: Uint8Array): number {
    if (bytes.byteLength === 0) throw fail('malformed', 'empty packet')
    if (bytes[0] !== LABEL_MARKER) {
      if (this.#labelHeader.byteLength > 0) throw fail('label-mismatch', 'packet carries no cluster label')
      return 0
    }
    if (bytes.byteLength < 2) throw fail('malformed', 'truncated label header')
    const length = bytes[1] as number
    if (length === 0 || bytes.byteLength < 2 + length) throw fail('malformed', 'truncated label header')
    if (Buffer.compare(bytes.subarray(0, 2 + length), this.#labelHeader) !== 0) {
      throw fail('label-mismatch', this.#labelHeader.byteLength === 0 ? 'packet carries a cluster label but none is set' : 'packet carries another cluster label')
    }
    return 2 + length
  }
}

function tryDecrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch {
    // Authentication failed under this key: try the next one.
    return undefined
  }
}

function fail(reason: SecurityErrorReason, message: string): ProtocolError {
  return new ProtocolError(reason, message)
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}
