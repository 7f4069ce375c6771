/**
 * MQTT 3.1.1 rules that mqtt-packet's parser and aedes do not enforce, checked by the frame guard
 * on the bytes of a packet before aedes sees them (docs/mqtt.md, "Malformed packets"). Pure
 * functions of the packet's bytes; each broken rule is a reason the connection is closed.
 *
 * Left to the parser and aedes (they close the connection already, counted as client-error or
 * connection-error): unknown protocol names, the CONNECT reserved flag, will QoS/retain without a
 * will, fixed-header flags of SUBSCRIBE/UNSUBSCRIBE/PUBREL/PUBACK…, QoS 3 in PUBLISH and
 * SUBSCRIBE, SUBSCRIBE without filters, wildcards or no topic in PUBLISH, bad filters, too many
 * topic levels, fields that run past the end of the packet.
 */
export type PacketRejection =
  /** A server-to-client packet (CONNACK, SUBACK, UNSUBACK, PINGRESP) from a client [MQTT-4.8.0-1]. */
  | 'unexpected-packet-type'
  /** PINGREQ or DISCONNECT with a body [MQTT-3.12], [MQTT-3.14]. */
  | 'unexpected-body'
  /** QoS 0 PUBLISH with DUP set [MQTT-3.3.1-2]. */
  | 'dup-on-qos0'
  /** A string that is not well-formed UTF-8 (overlong forms, surrogates, cut sequences) [MQTT-1.5.3-1]. */
  | 'invalid-utf8'
  /** U+0000 in a string [MQTT-1.5.3-2]. */
  | 'nul-character'
  /** Packet Identifier 0 in PUBLISH (QoS > 0), SUBSCRIBE or UNSUBSCRIBE [MQTT-2.3.1-1]. */
  | 'packet-id-zero'
  /**
   * A QoS 1/2 PUBLISH whose Remaining Length ends before its packet identifier [MQTT-3.3.2.2]:
   * mqtt-packet takes it without one, and the PUBACK aedes writes for it lacks its id bytes, so
   * the client reads the next packet's header as the id (found by the MQTT fuzzer, seed 871530856).
   */
  | 'missing-packet-id'
  /** Will QoS 3 [MQTT-3.1.2-14], or a password without a user name [MQTT-3.1.2-22]. */
  | 'bad-connect-flags'
  /** An empty will topic, or one with + or # [MQTT-4.7.3-1], [MQTT-3.3.2-2]. */
  | 'bad-will-topic'
  /** Bytes after the last field of a CONNECT [MQTT-3.1.3]. */
  | 'trailing-bytes'
  /** UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2], or with an empty one [MQTT-4.7.3-1]. */
  | 'bad-unsubscribe'

const PUBLISH = 3
const SUBSCRIBE = 8
const UNSUBSCRIBE = 10
const CONNECT = 1

/** Verdict on a fixed header alone (first byte and Remaining Length). */
export function checkHeader(headerByte: number, remainingLength: number): PacketRejection | undefined {
  const type = headerByte >> 4
  if (type === 2 || type === 9 || type === 11 || type === 13) return 'unexpected-packet-type'
  if ((type === 12 || type === 14) && remainingLength !== 0) return 'unexpected-body'
  if (type === PUBLISH && (headerByte & 0x06) === 0 && (headerByte & 0x08) !== 0) return 'dup-on-qos0'
  return undefined
}

/**
 * How many leading body bytes `checkBody` needs for this packet: none, the whole body, or for a
 * PUBLISH its topic and packet id (a first call with 2 bytes learns the topic's length). Never
 * more than the body holds.
 */
export function bytesToCheck(headerByte: number, remainingLength: number, gathered: Uint8Array | undefined): number {
  const type = headerByte >> 4
  if (type === CONNECT || type === SUBSCRIBE || type === UNSUBSCRIBE) return remainingLength
  if (type !== PUBLISH) return 0
  if (gathered === undefined || gathered.length < 2) return Math.min(2, remainingLength)
  const idBytes = (headerByte & 0x06) !== 0 ? 2 : 0
  return Math.min(remainingLength, 2 + (((gathered[0] as number) << 8) | (gathered[1] as number)) + idBytes)
}

/**
 * Verdict on a packet's leading body bytes (`bytesToCheck` of them). A structure the parser will
 * refuse anyway (a field running past the end) is left to it: undefined.
 */
export function checkBody(headerByte: number, body: Uint8Array): PacketRejection | undefined {
  const r = new FieldReader(body)
  switch (headerByte >> 4) {
    case CONNECT: return checkConnect(r)
    case PUBLISH: return checkPublishAt(headerByte, body, 0, body.length)
    case SUBSCRIBE:
    case UNSUBSCRIBE: {
      if (r.remaining < 2) return undefined
      if (r.u16() === 0) return 'packet-id-zero'
      const subscribe = headerByte >> 4 === SUBSCRIBE
      if (!subscribe && r.remaining === 0) return 'bad-unsubscribe'
      while (r.remaining > 0) {
        const filter = r.field()
        if (filter === undefined) return undefined
        const bad = checkString(filter)
        if (bad) return bad
        if (!subscribe && filter.length === 0) return 'bad-unsubscribe'
        if (subscribe && r.skip(1) === undefined) return undefined
      }
      return undefined
    }
    default: return undefined
  }
}

function checkConnect(r: FieldReader): PacketRejection | undefined {
  const name = r.field()
  if (name === undefined || r.remaining < 4) return undefined
  const protocol = Buffer.from(name).toString('latin1')
  const level = r.u8() & 0x7f // the top bit marks a bridge (Mosquitto)
  // Only 3.1 and 3.1.1 have the layout below; other names and levels are refused elsewhere.
  if (!((protocol === 'MQTT' && level === 4) || (protocol === 'MQIsdp' && level === 3))) return undefined
  const flags = r.u8()
  r.skip(2) // keep alive
  const will = (flags & 0x04) !== 0
  const user = (flags & 0x80) !== 0
  const password = (flags & 0x40) !== 0
  if (will && ((flags >> 3) & 0x03) === 3) return 'bad-connect-flags' // [MQTT-3.1.2-14]
  if (password && !user && level === 4) return 'bad-connect-flags' // [MQTT-3.1.2-22]
  const clientId = r.field()
  if (clientId === undefined) return undefined
  const badId = checkString(clientId)
  if (badId) return badId
  if (will) {
    const topic = r.field()
    if (topic === undefined) return undefined
    const badTopic = checkString(topic)
    if (badTopic) return badTopic
    if (topic.length === 0 || topic.includes(0x23) || topic.includes(0x2b)) return 'bad-will-topic' // '#', '+'
    if (r.field() === undefined) return undefined // will message: binary
  }
  if (user) {
    const username = r.field()
    if (username === undefined) return undefined
    const badUser = checkString(username)
    if (badUser) return badUser
  }
  if (password && r.field() === undefined) return undefined // binary
  return r.remaining === 0 ? undefined : 'trailing-bytes'
}

/**
 * `checkBody` for a PUBLISH whose topic and packet id lie whole in `buf[start, end)` (`end` from
 * `bytesToCheck`): the hot path, no copy and no allocation for an ASCII topic.
 */
export function checkPublishAt(headerByte: number, buf: Uint8Array, start: number, end: number): PacketRejection | undefined {
  if (end - start < 2) return undefined
  const topicEnd = start + 2 + (((buf[start] as number) << 8) | (buf[start + 1] as number))
  if (topicEnd > end) return undefined // runs past the packet: the parser's to refuse
  let ascii = true
  for (let i = start + 2; i < topicEnd; i++) {
    const b = buf[i] as number
    if (b === 0) return 'nul-character'
    if (b >= 0x80) ascii = false
  }
  if (!ascii) {
    try {
      strictUtf8.decode(buf.subarray(start + 2, topicEnd))
    } catch {
      return 'invalid-utf8'
    }
  }
  if ((headerByte & 0x06) === 0) return undefined
  // `end` is the packet's end, or its topic and packet id's when the packet is longer (bytesToCheck).
  if (end - topicEnd < 2) return 'missing-packet-id'
  if (buf[topicEnd] === 0 && buf[topicEnd + 1] === 0) return 'packet-id-zero'
  return undefined
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** An MQTT UTF-8 string's bytes: well-formed, no U+0000 [MQTT-1.5.3-1, -2]. */
export function checkString(bytes: Uint8Array): PacketRejection | undefined {
  let ascii = true
  for (const b of bytes) {
    if (b === 0) return 'nul-character' // in UTF-8 a 0 byte is U+0000 and nothing else
    if (b >= 0x80) ascii = false
  }
  if (ascii) return undefined
  try {
    strictUtf8.decode(bytes)
  } catch {
    return 'invalid-utf8'
  }
  return undefined
}

/** Reads big-endian integers and length-prefixed fields; undefined once a field runs past the end. */
class FieldReader {
  #at = 0
  constructor(private readonly bytes: Uint8Array) {}
  get remaining(): number { return this.bytes.length - this.#at }
  u8(): number { return this.bytes[this.#at++] as number }
  u16(): number { const v = ((this.bytes[this.#at] as number) << 8) | (this.bytes[this.#at + 1] as number); this.#at += 2; return v }
  skip(n: number): true | undefined { if (this.remaining < n) return undefined; this.#at += n; return true }
  field(): Uint8Array | undefined {
    if (this.remaining < 2) return undefined
    const length = this.u16()
    if (this.remaining < length) return undefined
    const out = this.bytes.subarray(this.#at, this.#at + length)
    this.#at += length
    return out
  }
}
