import { Decoder, Encoder } from '@msgpack/msgpack'
import { ProtocolError } from '../base/errors.js'
import { MEMBER_STATES, type MemberAddresses, type MemberMeta, type MemberState } from './member.js'
import {
  MESSAGE_TYPE_CODES, PROTOCOL_VERSION, WIRE_LIMITS,
  type Decoded, type GossipMessage, type MessageType, type PushPullMember, type SimpleMessage,
} from './messages.js'
import {
  asFields, readAddresses, readArray, readBoolean, readId, readMeta, readOptionalBytes, readString, readUint,
  type Fields,
} from './wire-fields.js'

/**
 * The gossip wire format. A packet is
 *
 *     [version: 1 byte = PROTOCOL_VERSION][type: 1 byte, MESSAGE_TYPE_CODES][body: one msgpack map]
 *
 * Body keys (short, since gossip rides in ≤ 1400-byte datagrams):
 *
 * | type          | body                                                          |
 * |---------------|---------------------------------------------------------------|
 * | ping          | { seq, target, from, fromAddr }                               |
 * | indirect-ping | { seq, target, targetAddr, nack, from, fromAddr }             |
 * | ack           | { seq, payload? (bin) }                                       |
 * | nack          | { seq }                                                       |
 * | alive         | { inc, node, addrs: { gossip, mqtt?, admin?, interHub? }, meta } |
 * | suspect, dead | { inc, node, from }                                           |
 * | compound      | { parts: [bin, …] }, each part a whole packet (not a compound) |
 * | push-pull     | { join, members: [{ id, inc, state, addrs, meta }, …] }       |
 *
 * Decoding yields a message, `{ type: 'unknown' }` for a type code this version does not know
 * (count and drop), or throws a `ProtocolError` and nothing else. Encryption and the cluster
 * label wrap the packet outside this layer (`security.ts`).
 */

/** Why a packet was refused: the `reason` of the `ProtocolError`. */
export type CodecErrorReason = 'truncated' | 'oversize' | 'version' | 'bad-msgpack' | 'bad-field' | 'nested-compound'

/** Upper bound of the compound framing around its parts: version, type, `{ parts: [` (array16). */
export const COMPOUND_HEADER_BYTES = 2 + 1 + 6 + 3
/** Upper bound of the framing of one compound part below 64 KiB (msgpack bin16 header). */
export const COMPOUND_PART_OVERHEAD_BYTES = 3

// Plain msgpack maps only (@msgpack/msgpack, pure JS). Extension types it still decodes
// (timestamps, unknown ExtData) fail the field checks. One encoder and one decoder for every
// packet: the library's `encode`/`decode` build a new one per call (a 2 KiB buffer, an empty
// key cache), which was most of the garbage a gossiping ring of 1000 made. Both are
// synchronous, and the decoder clones itself if ever re-entered.
const encoder = new Encoder()
const decoder = new Decoder()

const TYPE_BY_CODE = new Map<number, MessageType>(
  Object.entries(MESSAGE_TYPE_CODES).map(([type, code]) => [code, type as MessageType]),
)

const SEQ_MAX = 0xffff_ffff

// ---------------------------------------------------------------------------------- encode

function packet(type: MessageType, body: Record<string, unknown>): Uint8Array {
  const encoded = encoder.encodeSharedRef(body) // a view of the encoder's buffer: copied below
  const out = new Uint8Array(2 + encoded.byteLength)
  out[0] = PROTOCOL_VERSION
  out[1] = MESSAGE_TYPE_CODES[type]
  out.set(encoded, 2)
  return out
}

function addressesBody(addresses: MemberAddresses): Record<string, string> {
  const body: Record<string, string> = { gossip: addresses.gossip }
  if (addresses.mqtt !== undefined) body.mqtt = addresses.mqtt
  if (addresses.admin !== undefined) body.admin = addresses.admin
  if (addresses.interHub !== undefined) body.interHub = addresses.interHub
  return body
}

function memberBody(m: PushPullMember): Record<string, unknown> {
  return { id: m.id, inc: m.incarnation, state: m.state, addrs: addressesBody(m.addresses), meta: { ...m.meta } }
}

/** Encodes one message as a packet. Compounds are built from packets with `encodeCompound`. */
export function encodePacket(message: SimpleMessage): Uint8Array {
  switch (message.type) {
    case 'ping':
      return packet('ping', { seq: message.seq, target: message.target, from: message.from, fromAddr: message.fromAddr })
    case 'indirect-ping':
      return packet('indirect-ping', {
        seq: message.seq, target: message.target, targetAddr: message.targetAddr, nack: message.nack,
        from: message.from, fromAddr: message.fromAddr,
      })
    case 'ack':
      return packet('ack', message.payload === undefined ? { seq: message.seq } : { seq: message.seq, payload: message.payload })
    case 'nack':
      return packet('nack', { seq: message.seq })
    case 'alive':
      return packet('alive', { inc: message.incarnation, node: message.node, addrs: addressesBody(message.addresses), meta: { ...message.meta } })
    case 'suspect':
    case 'dead':
      return packet(message.type, { inc: message.incarnation, node: message.node, from: message.from })
    case 'push-pull':
      return packet('push-pull', { join: message.join, members: message.members.map(memberBody) })
  }
}

/** msgpack bin header size for a part of `length` bytes. */
function binHeaderBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x1_0000 ? 3 : 5
}

export interface CompoundPacking {
  /** The compound packet, or undefined when nothing fit. */
  packet: Uint8Array | undefined
  /** Parts inside `packet`, in input order. */
  packed: Uint8Array[]
  /** Parts that did not fit this time (or beyond `maxCompoundParts`), in input order. */
  left: Uint8Array[]
  /** Parts too large for any compound of `maxBytes`: send them alone, or drop them. */
  oversize: Uint8Array[]
}

/**
 * Packs as many `parts` (packets from `encodePacket`) as fit into one compound packet of at most
 * `maxBytes` (memberlist `makeCompoundMessage`; 1400 for UDP), greedily in order, skipping a
 * part that does not fit to try the next. A caller with a single part should send it alone,
 * as memberlist does.
 */
export function encodeCompound(parts: readonly Uint8Array[], maxBytes: number): CompoundPacking {
  const packed: Uint8Array[] = []
  const left: Uint8Array[] = []
  const oversize: Uint8Array[] = []
  let usedBytes = COMPOUND_HEADER_BYTES
  for (const part of parts) {
    const cost = binHeaderBytes(part.byteLength) + part.byteLength
    if (COMPOUND_HEADER_BYTES + cost > maxBytes) oversize.push(part)
    else if (packed.length >= WIRE_LIMITS.maxCompoundParts || usedBytes + cost > maxBytes) left.push(part)
    else {
      packed.push(part)
      usedBytes += cost
    }
  }
  return { packet: packed.length === 0 ? undefined : packet('compound', { parts: packed }), packed, left, oversize }
}

// ---------------------------------------------------------------------------------- decode

export interface DecodeOptions {
  /** Largest packet accepted; default `WIRE_LIMITS.maxPacketBytes`. UDP callers pass 1400 or 65 536. */
  maxBytes?: number
}

/**
 * Decodes one packet. Returns the message, or `{ type: 'unknown' }` for a type added by a newer
 * version; throws `ProtocolError` (reason: `CodecErrorReason`) for anything malformed, and no
 * other exception type. A compound with any malformed part is refused whole: its parts share a
 * sender, and a sender that writes garbage is not trusted for the rest.
 */
export function decodePacket(bytes: Uint8Array, options: DecodeOptions = {}): Decoded {
  const maxBytes = options.maxBytes ?? WIRE_LIMITS.maxPacketBytes
  if (bytes.byteLength > maxBytes) throw new ProtocolError('oversize', `packet of ${bytes.byteLength} bytes exceeds ${maxBytes}`)
  return decode(bytes, true)
}

function decode(bytes: Uint8Array, compoundAllowed: boolean): Decoded {
  if (bytes.byteLength < 3) throw new ProtocolError('truncated', `packet of ${bytes.byteLength} bytes is too short`)
  if (bytes[0] !== PROTOCOL_VERSION) throw new ProtocolError('version', `unsupported protocol version ${bytes[0]}`)
  const code = bytes[1] as number
  const type = TYPE_BY_CODE.get(code)
  if (type === undefined) return { type: 'unknown', code, bodyBytes: bytes.byteLength - 2 }
  if (type === 'compound' && !compoundAllowed) throw new ProtocolError('nested-compound', 'compound inside a compound')
  const body = asFields(unpackBody(bytes.subarray(2), type), type)
  return decodeBody(type, body)
}

function unpackBody(bytes: Uint8Array, type: MessageType): unknown {
  try {
    return decoder.decode(bytes)
  } catch (error) {
    // Reads past the end are "Insufficient data"; anything else (bad UTF-8, deep nesting
    // overflowing the stack, trailing bytes, a bad type byte) is just bad msgpack.
    const incomplete = error instanceof RangeError && /insufficient data/i.test(error.message)
    throw new ProtocolError(incomplete ? 'truncated' : 'bad-msgpack', `${type}: body is not valid msgpack`, { cause: error })
  }
}

function decodeBody(type: MessageType, b: Fields): GossipMessage {
  switch (type) {
    case 'ping':
      return { type, seq: readUint(b, 'seq', type, SEQ_MAX), target: readId(b, 'target', type), from: readId(b, 'from', type), fromAddr: readAddress(b, 'fromAddr', type) }
    case 'indirect-ping':
      return {
        type, seq: readUint(b, 'seq', type, SEQ_MAX), target: readId(b, 'target', type), targetAddr: readAddress(b, 'targetAddr', type),
        nack: readBoolean(b, 'nack', type), from: readId(b, 'from', type), fromAddr: readAddress(b, 'fromAddr', type),
      }
    case 'ack': {
      const payload = readOptionalBytes(b, 'payload', type, WIRE_LIMITS.maxPayloadBytes)
      const seq = readUint(b, 'seq', type, SEQ_MAX)
      return payload === undefined ? { type, seq } : { type, seq, payload }
    }
    case 'nack':
      return { type, seq: readUint(b, 'seq', type, SEQ_MAX) }
    case 'alive':
      return { type, incarnation: readUint(b, 'inc', type), node: readId(b, 'node', type), addresses: readAddresses(b, 'addrs', type), meta: readMeta(b, 'meta', type) }
    case 'suspect':
    case 'dead':
      return { type, incarnation: readUint(b, 'inc', type), node: readId(b, 'node', type), from: readId(b, 'from', type) }
    case 'compound':
      return { type, parts: readArray(b, 'parts', type, WIRE_LIMITS.maxCompoundParts).map(decodePart) }
    case 'push-pull':
      return {
        type, join: readBoolean(b, 'join', type),
        members: readArray(b, 'members', type, WIRE_LIMITS.maxPushPullMembers).map((m, i) => decodeMember(m, `push-pull.members[${i}]`)),
      }
  }
}

function readAddress(b: Fields, key: string, where: string): string {
  return readString(b, key, where, WIRE_LIMITS.maxAddressLength, 1)
}

function decodePart(part: unknown, index: number): Decoded<SimpleMessage> {
  if (!(part instanceof Uint8Array)) throw new ProtocolError('bad-field', `compound.parts[${index}]: expected bytes`)
  return decode(part, false) as Decoded<SimpleMessage>
}

function decodeMember(value: unknown, where: string): PushPullMember {
  const m = asFields(value, where)
  const state = readString(m, 'state', where, 16)
  if (!(MEMBER_STATES as readonly string[]).includes(state)) throw new ProtocolError('bad-field', `${where}.state: expected ${MEMBER_STATES.join(', ')}`)
  const meta: MemberMeta = readMeta(m, 'meta', where)
  return {
    id: readId(m, 'id', where), incarnation: readUint(m, 'inc', where), state: state as MemberState,
    addresses: readAddresses(m, 'addrs', where), meta,
  }
}
