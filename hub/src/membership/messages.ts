import type { MemberAddresses, MemberMeta, MemberState, MemberVersion } from './member.js'

/**
 * The gossip messages (memberlist `net.go`: `ping`, `indirectPingReq`, `ackResp`, `nackResp`,
 * `alive`, `suspect`, `dead`, `compound`, `pushPull`). The encoding is in `codec.ts`.
 *
 * Evolution is append-only (STYLE §6): new message types take new codes at the end of
 * `MESSAGE_TYPE_CODES`, new fields are added to bodies and ignored by older decoders; a code is
 * never reused and a field never changes meaning. `PROTOCOL_VERSION` changes only for a change
 * older hubs must not parse at all.
 */

/** First byte of every packet. Bytes 0xE0–0xFF are reserved for the security envelope. */
export const PROTOCOL_VERSION = 1

/** Second byte of every packet. Append-only: never renumber, never reuse. */
export const MESSAGE_TYPE_CODES = {
  'ping': 0,
  'indirect-ping': 1,
  'ack': 2,
  'nack': 3,
  'alive': 4,
  'suspect': 5,
  'dead': 6,
  'compound': 7,
  'push-pull': 8,
} as const

export type MessageType = keyof typeof MESSAGE_TYPE_CODES

/** SWIM §3.1 direct probe. Answered with an `ack` carrying the same `seq`. */
export interface PingMessage {
  type: 'ping'
  /** Sender's probe sequence number (uint32, wraps). */
  seq: number
  /** Id the sender thinks it is probing: a hub that got a ping meant for another id ignores it
   *  (memberlist `ping.Node`, guards against a reused address). */
  target: string
  /** Sender's id and gossip address, so the ack can go back even before we know the sender. */
  from: string
  fromAddr: string
}

/** SWIM §3.1 ping-req: "probe `target` for me and relay its ack". */
export interface IndirectPingMessage {
  type: 'indirect-ping'
  seq: number
  target: string
  targetAddr: string
  /** Lifeguard LHA-Probe: answer with a `nack` if the target does not ack in time. */
  nack: boolean
  from: string
  fromAddr: string
}

export interface AckMessage {
  type: 'ack'
  seq: number
  /** Optional opaque payload from the probed member (memberlist `ackResp.Payload`). */
  payload?: Uint8Array
}

/** Lifeguard: an indirect prober's "I asked, no answer", so a missing ack is not our fault. */
export interface NackMessage {
  type: 'nack'
  seq: number
}

/** A member is alive at `incarnation`, with these addresses and metadata. */
export interface AliveMessage {
  type: 'alive'
  incarnation: number
  node: string
  addresses: MemberAddresses
  meta: MemberMeta
}

/** `from` suspects `node` at `incarnation` (SWIM §4.2). */
export interface SuspectMessage {
  type: 'suspect'
  incarnation: number
  node: string
  from: string
}

/** `from` declares `node` dead at `incarnation`; with `from === node` it is a graceful leave. */
export interface DeadMessage {
  type: 'dead'
  incarnation: number
  node: string
  from: string
}

/**
 * Several packets in one datagram (memberlist `compoundMsg`). Never nested. Parts may be any
 * other type; the dispatcher decides which it accepts over UDP (push-pull belongs on TCP).
 */
export interface CompoundMessage {
  type: 'compound'
  parts: Decoded<SimpleMessage>[]
}

/** One member's entry in a push-pull state exchange (memberlist `pushNodeState`). */
export interface PushPullMember {
  id: string
  incarnation: number
  state: MemberState
  addresses: MemberAddresses
  meta: MemberMeta
}

/** Full state exchange over TCP, periodically and on join (memberlist `pushPullMsg`). */
export interface PushPullMessage {
  type: 'push-pull'
  /** True when the sender is joining: the receiver answers with its own state. */
  join: boolean
  members: PushPullMember[]
}

/**
 * What a membership message says about its member, for `precedence.ts`. A `dead` sent by the
 * member itself is a graceful leave (memberlist `deadNode`: `d.Node == d.From` → `StateLeft`).
 */
export function versionOf(message: AliveMessage | SuspectMessage | DeadMessage): MemberVersion {
  const state: MemberState = message.type === 'dead' ? (message.from === message.node ? 'left' : 'dead') : message.type
  return { state, incarnation: message.incarnation }
}

export type SimpleMessage =
  | PingMessage | IndirectPingMessage | AckMessage | NackMessage
  | AliveMessage | SuspectMessage | DeadMessage | PushPullMessage

export type GossipMessage = SimpleMessage | CompoundMessage

/**
 * A well-formed packet of a type this version does not know (a newer hub's addition). Callers
 * count it and drop it (STYLE §6); it is not an error.
 */
export interface UnknownMessage {
  type: 'unknown'
  code: number
  bodyBytes: number
}

export type Decoded<M extends GossipMessage = GossipMessage> = M | UnknownMessage

/**
 * Bounds on what a remote party may send; anything beyond is a `ProtocolError` ('oversize' or
 * 'bad-field'), so a hostile packet cannot make us allocate or store much.
 */
export const WIRE_LIMITS = {
  /** Member ids, including `target`, `node`, `from`. */
  maxIdLength: 128,
  /** `host:port` strings: a 253-character DNS name or a bracketed IPv6 literal, ':', 5 digits. */
  maxAddressLength: 261,
  /** Metadata: fields (version and role included), key length, value length. */
  maxMetaFields: 16,
  maxMetaKeyLength: 64,
  maxMetaValueLength: 256,
  /** Ack payload. */
  maxPayloadBytes: 512,
  /** Parts of one compound packet (memberlist encodes the count in one byte). */
  maxCompoundParts: 255,
  /** Members in one push-pull state. */
  maxPushPullMembers: 65_536,
  /** Default cap on a whole packet; UDP callers pass their datagram size. Push-pull is TCP. */
  maxPacketBytes: 16 * 1024 * 1024,
} as const
