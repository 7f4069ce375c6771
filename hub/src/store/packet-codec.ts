import { createRequire } from 'node:module'
import { deserialize, serialize } from 'node:v8'

/**
 * A packet as aedes hands it to the persistence: the MQTT fields plus whatever else it carries
 * (MQTT 5 `properties`, `clientId`, `messageExpiry`, `length`, ...). Narrow on purpose: aedes and
 * aedes-persistence ship no useful types for this.
 */
export interface PacketLike {
  cmd?: string
  topic?: string
  payload?: Buffer | Uint8Array | string
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string
  brokerCounter?: number
  [field: string]: unknown
}

/** The packet columns shared by the retained, outgoing, incoming and wills tables. */
export interface PacketRow {
  cmd: string | null
  topic: string | null
  payload: Buffer | string | null
  qos: number | null
  retain: number | null
  dup: number | null
  message_id: number | null
  broker_id: string | null
  broker_counter: number | null
  shape: number
  extra: Buffer | null
}

export const PACKET_COLUMNS = 'cmd, topic, payload, qos, retain, dup, message_id, broker_id, broker_counter, shape, extra'
export const PACKET_PARAMS = '@cmd, @topic, @payload, @qos, @retain, @dup, @message_id, @broker_id, @broker_counter, @shape, @extra'

/**
 * The fields with a column of their own; bit i of `shape` says field i was an own property, so a
 * decoded packet has exactly the keys the stored one had (aedes-persistence's tests deep-compare
 * them, and `messageId: undefined` differs from no messageId for them).
 */
const FIELDS = ['cmd', 'topic', 'payload', 'qos', 'retain', 'dup', 'messageId', 'brokerId', 'brokerCounter'] as const
const FIELD_SET: ReadonlySet<string> = new Set(FIELDS)
type Field = typeof FIELDS[number]
const bit = (field: Field): number => 1 << FIELDS.indexOf(field)

/** `shape` bit of `messageId`, for the UPDATE that assigns one in place. */
export const MESSAGE_ID_BIT = bit('messageId')

type PacketConstructor = new (original: PacketLike, broker?: { id: string, counter: number }) => PacketLike
// aedes-packet is CommonJS and its typings describe a namespace, not the constructor it exports.
const AedesPacket = createRequire(import.meta.url)('aedes-packet') as PacketConstructor

/** A new packet numbered by `broker` (brokerId, brokerCounter), as aedes numbers every publish. */
export function brokerPacket(packet: PacketLike, broker: { id: string, counter: number }): PacketLike {
  return new AedesPacket(packet, broker)
}

/** What the memory persistence stores for a queued packet: aedes-packet's normalised copy. */
export function toAedesPacket(packet: PacketLike): PacketLike {
  return new AedesPacket(packet)
}

export function encodePacket(packet: PacketLike): PacketRow {
  let shape = 0
  for (const field of FIELDS) if (Object.hasOwn(packet, field)) shape |= bit(field)
  let rest: Record<string, unknown> | undefined
  for (const key of Object.keys(packet)) {
    const value = packet[key]
    // Functions (aedes' QoSPacket.writeCallback) are per-connection state, never session state.
    if (FIELD_SET.has(key) || typeof value === 'function' || typeof value === 'symbol') continue
    rest ??= {}
    rest[key] = value
  }
  return {
    cmd: str(packet.cmd),
    topic: str(packet.topic),
    payload: payloadOf(packet.payload),
    qos: num(packet.qos),
    retain: flag(packet.retain),
    dup: flag(packet.dup),
    message_id: num(packet.messageId),
    broker_id: str(packet.brokerId),
    broker_counter: num(packet.brokerCounter),
    shape,
    // v8 serialization keeps Buffers (MQTT 5 correlationData), nesting and undefined values.
    extra: rest ? serialize(rest) : null,
  }
}

export function decodePacket(row: PacketRow): PacketLike {
  const packet: PacketLike = {}
  const has = (field: Field): boolean => (row.shape & bit(field)) !== 0
  if (has('cmd')) packet.cmd = row.cmd ?? undefined
  if (has('topic')) packet.topic = row.topic ?? undefined
  if (has('payload')) packet.payload = row.payload ?? undefined
  if (has('qos')) packet.qos = row.qos ?? undefined
  if (has('retain')) packet.retain = row.retain === null ? undefined : row.retain !== 0
  if (has('dup')) packet.dup = row.dup === null ? undefined : row.dup !== 0
  if (has('messageId')) packet.messageId = row.message_id ?? undefined
  if (has('brokerId')) packet.brokerId = row.broker_id ?? undefined
  if (has('brokerCounter')) packet.brokerCounter = row.broker_counter ?? undefined
  if (row.extra) Object.assign(packet, deserialize(row.extra) as Record<string, unknown>)
  return packet
}

/** A packet's payload as a Buffer (aedes hands strings, Buffers or none); a Buffer as it is. */
export function payloadBytes(payload: Buffer | Uint8Array | string | undefined | null): Buffer {
  if (Buffer.isBuffer(payload)) return payload
  return typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload ?? [])
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

function num(value: unknown): number | null {
  return typeof value === 'number' ? value : null
}

function flag(value: unknown): number | null {
  return value === undefined || value === null ? null : value ? 1 : 0
}

function payloadOf(value: unknown): Buffer | string | null {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return null
}
