import mqttPacket from 'mqtt-packet'
import { encodeRemainingLength } from './mqtt.js'

// A corpus of malformed MQTT 3.1.1 input, one named case per class of protocol violation, built
// by hand byte for byte (mqtt-packet refuses to encode most of it). Each case says what the
// hub must answer and which counter must go up; test/integration/mqtt-corpus.test.ts runs every
// case on TCP and on WebSocket against one hub.

/** What the hub must do with the case's bytes. */
export type Outcome =
  /** Close the connection without answering (a CONNACK only when `connack` is given). */
  | { close: true, connack?: number }
  /** Answer SUBACK with these return codes; the connection may stay open. */
  | { suback: number[] }
  /** Accept it as the valid (if odd) input it is: CONNACK 0, then a QoS 1 round trip works. */
  | { serves: true }
  /** Never take a cut packet as complete: no answer at all until the connection ends. */
  | { nothing: true }

/** The counter (`ringhub_*_total{reason}` on /metrics) the case must raise by one. */
export interface Counted {
  metric: 'ringhub_protocol_errors_total' | 'ringhub_auth_failures_total' | 'ringhub_acl_denials_total' | 'ringhub_disconnects_total' | 'ringhub_connections_total'
  /** The `reason` (or `action`) label; for ringhub_connections_total the listener it came in on. */
  label: string
}

export interface CorpusCase {
  /** Unique, short, kebab-case: the test's name. */
  name: string
  /** The clause of MQTT 3.1.1 the case violates (or the hub rule, docs/mqtt.md). */
  spec: string
  /**
   * `fresh`: the bytes are the first on a new connection; `session`: sent after an anonymous
   * CONNECT + CONNACK 0; `device`: after CONNECT + CONNACK 0 as the device user CORPUS_DEVICE.
   */
  start: 'fresh' | 'session' | 'device'
  bytes: Buffer
  /** After the bytes: keep the socket open (`idle`) or half-close it (`end`). Default idle. */
  then?: 'idle' | 'end'
  outcome: Outcome
  counted: Counted
}

// ---- building blocks -------------------------------------------------------------------------

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const bytes = (s: string | Buffer | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s))
/** An MQTT UTF-8 string or binary field: 2-byte length, then the bytes verbatim. */
export const field = (s: string | Buffer | number[]): Buffer => { const b = bytes(s); return Buffer.concat([u16(b.length), b]) }
/** A whole packet: first byte, Remaining Length, body. */
export const frame = (header: number, ...body: Buffer[]): Buffer => {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from([header]), encodeRemainingLength(b.length), b])
}

export interface ConnectFields {
  protocolName?: string
  level?: number
  /** The connect flags byte as given, or computed from the fields below when absent. */
  flags?: number
  keepalive?: number
  clientId?: string | Buffer | number[]
  clean?: boolean
  will?: { topic: string | Buffer | number[], message: string, qos?: number, retain?: boolean }
  username?: string | Buffer | number[]
  password?: string
}

/** The fields of a CONNECT in wire order, each as its own buffer (for cuts at field boundaries). */
export function connectFields(c: ConnectFields = {}): Array<[string, Buffer]> {
  const clean = c.clean ?? true
  const flags = c.flags ?? ((c.username !== undefined ? 0x80 : 0) | (c.password !== undefined ? 0x40 : 0)
    | (c.will ? 0x04 | ((c.will.qos ?? 0) << 3) | (c.will.retain ? 0x20 : 0) : 0) | (clean ? 0x02 : 0))
  const out: Array<[string, Buffer]> = [
    ['protocol name', field(c.protocolName ?? 'MQTT')],
    ['protocol level', Buffer.from([c.level ?? 4])],
    ['connect flags', Buffer.from([flags])],
    ['keep alive', u16(c.keepalive ?? 0)],
    ['client id', field(c.clientId ?? '')],
  ]
  if (c.will) out.push(['will topic', field(c.will.topic)], ['will message', field(c.will.message)])
  if (c.username !== undefined) out.push(['user name', field(c.username)])
  if (c.password !== undefined) out.push(['password', field(c.password)])
  return out
}

export const connect = (c: ConnectFields = {}): Buffer => frame(0x10, ...connectFields(c).map(([, b]) => b))

/** PUBLISH with the topic bytes verbatim; `id` for QoS > 0. */
export const publish = (topic: string | Buffer | number[], opts: { qos?: number, id?: number, payload?: string, header?: number } = {}): Buffer => {
  const qos = opts.qos ?? 0
  return frame(opts.header ?? (0x30 | (qos << 1)), field(topic), qos > 0 ? u16(opts.id ?? 1) : Buffer.alloc(0), bytes(opts.payload ?? 'x'))
}

/** SUBSCRIBE with each filter's options byte given verbatim (the QoS, reserved bits included). */
export const subscribe = (id: number, filters: Array<[string | Buffer | number[], number]>, header = 0x82): Buffer =>
  frame(header, u16(id), ...filters.flatMap(([f, o]) => [field(f), Buffer.from([o])]))

export const unsubscribe = (id: number, filters: Array<string | Buffer | number[]>, header = 0xa2): Buffer =>
  frame(header, u16(id), ...filters.map((f) => field(f)))

// ---- the corpus ------------------------------------------------------------------------------

const closed = (reason: string, connack?: number): Pick<CorpusCase, 'outcome' | 'counted'> => ({
  outcome: connack === undefined ? { close: true } : { close: true, connack },
  counted: { metric: 'ringhub_protocol_errors_total', label: reason },
})
const refused = (connack: number, reason: string): Pick<CorpusCase, 'outcome' | 'counted'> => ({
  outcome: { close: true, connack },
  counted: { metric: 'ringhub_auth_failures_total', label: reason },
})

/** A device user the corpus hub must hold (role device, may use devices/<name>/...). */
export const CORPUS_DEVICE = 'cdev'
export const CORPUS_DEVICE_PASSWORD = 'pw-cdev'

/** The hub's topic level limit in the corpus test (maxTopicLevels = 100, the option's maximum). */
export const CORPUS_MAX_TOPIC_LEVELS = 100
const levels = (n: number): string => Array.from({ length: n }, (_, i) => `l${i}`).join('/')

/** One case per class of violation; `session` cases follow a valid CONNECT. */
export const CORPUS: readonly CorpusCase[] = [
  // -- packet order and types [MQTT-3.1.0-1, -2], [MQTT-2.2.1]
  { name: 'publish-before-connect', spec: '[MQTT-3.1.0-1]', start: 'fresh', bytes: publish('a/b'), ...closed('first-packet-not-connect') },
  { name: 'pingreq-before-connect', spec: '[MQTT-3.1.0-1]', start: 'fresh', bytes: frame(0xc0), ...closed('first-packet-not-connect') },
  { name: 'second-connect', spec: '[MQTT-3.1.0-2]', start: 'session', bytes: connect({ clientId: 'again' }), ...closed('second-connect') },
  { name: 'reserved-type-0', spec: '[MQTT-2.2.1]', start: 'session', bytes: frame(0x00), ...closed('reserved-packet-type') },
  { name: 'reserved-type-15', spec: '[MQTT-2.2.1]', start: 'session', bytes: frame(0xf0), ...closed('reserved-packet-type') },
  { name: 'server-packet-connack', spec: '[MQTT-4.8.0-1] CONNACK is server to client', start: 'session', bytes: frame(0x20, Buffer.from([0, 0])), ...closed('unexpected-packet-type') },
  { name: 'server-packet-suback', spec: '[MQTT-4.8.0-1] SUBACK is server to client', start: 'session', bytes: frame(0x90, u16(1), Buffer.from([0])), ...closed('unexpected-packet-type') },
  { name: 'server-packet-unsuback', spec: '[MQTT-4.8.0-1] UNSUBACK is server to client', start: 'session', bytes: frame(0xb0, u16(1)), ...closed('unexpected-packet-type') },
  { name: 'server-packet-pingresp', spec: '[MQTT-4.8.0-1] PINGRESP is server to client', start: 'session', bytes: frame(0xd0), ...closed('unexpected-packet-type') },

  // -- fixed header flags [MQTT-2.2.2-2]
  { name: 'subscribe-flags-0000', spec: '[MQTT-3.8.1-1]', start: 'session', bytes: subscribe(1, [['a/b', 0]], 0x80), ...closed('client-error') },
  { name: 'unsubscribe-flags-0000', spec: '[MQTT-3.10.1-1]', start: 'session', bytes: unsubscribe(1, ['a/b'], 0xa0), ...closed('client-error') },
  { name: 'pubrel-flags-0000', spec: '[MQTT-3.6.1-1]', start: 'session', bytes: frame(0x60, u16(1)), ...closed('client-error') },
  { name: 'pingreq-flags-0001', spec: '[MQTT-2.2.2-2]', start: 'session', bytes: frame(0xc1), ...closed('client-error') },
  { name: 'disconnect-flags-0001', spec: '[MQTT-2.2.2-2]', start: 'session', bytes: frame(0xe1), ...closed('client-error') },
  { name: 'puback-flags-0010', spec: '[MQTT-2.2.2-2]', start: 'session', bytes: frame(0x42, u16(1)), ...closed('client-error') },
  { name: 'publish-qos-3', spec: '[MQTT-3.3.1-4]', start: 'session', bytes: publish('a/b', { header: 0x36, qos: 1, id: 1 }), ...closed('client-error') },
  { name: 'publish-qos0-dup', spec: '[MQTT-3.3.1-2]', start: 'session', bytes: publish('a/b', { header: 0x38 }), ...closed('dup-on-qos0') },

  // -- Remaining Length [MQTT-2.2.3]
  { name: 'remaining-length-5-bytes', spec: '[MQTT-2.2.3]', start: 'session', bytes: Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), ...closed('malformed-remaining-length') },
  { name: 'remaining-length-over-max-packet', spec: 'maxPacketBytes (docs/mqtt.md)', start: 'session', bytes: Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(268_435_455), field('a/b')]), ...closed('packet-too-large') },
  { name: 'remaining-length-short-of-topic', spec: '[MQTT-4.8.0-1] topic length past the packet end', start: 'session', bytes: Buffer.concat([Buffer.from([0x30, 0x04]), u16(200), bytes('ab')]), ...closed('client-error') },
  { name: 'disconnect-with-body', spec: '[MQTT-3.14] DISCONNECT has no body', start: 'session', bytes: frame(0xe0, Buffer.from([0])), ...closed('unexpected-body') },
  { name: 'pingreq-with-body', spec: '[MQTT-3.12] PINGREQ has no body', start: 'session', bytes: frame(0xc0, Buffer.from([0])), ...closed('unexpected-body') },

  // -- CONNECT [MQTT-3.1.2], [MQTT-3.1.3]
  { name: 'connect-protocol-name-MQTX', spec: '[MQTT-3.1.2-1]', start: 'fresh', bytes: connect({ protocolName: 'MQTX', clientId: 'c' }), ...closed('connection-error') },
  { name: 'connect-level-2', spec: '[MQTT-3.1.2-2]', start: 'fresh', bytes: connect({ level: 2, clientId: 'c' }), ...closed('unacceptable-protocol-level', 1) },
  { name: 'connect-reserved-flag', spec: '[MQTT-3.1.2-3]', start: 'fresh', bytes: connect({ flags: 0x03, clientId: 'c' }), ...closed('connection-error') },
  { name: 'connect-will-qos-without-will', spec: '[MQTT-3.1.2-13]', start: 'fresh', bytes: connect({ flags: 0x0a, clientId: 'c' }), ...closed('connection-error') },
  { name: 'connect-will-retain-without-will', spec: '[MQTT-3.1.2-15]', start: 'fresh', bytes: connect({ flags: 0x22, clientId: 'c' }), ...closed('connection-error') },
  { name: 'connect-will-qos-3', spec: '[MQTT-3.1.2-14]', start: 'fresh', bytes: connect({ clientId: 'c', will: { topic: 'w/t', message: 'bye', qos: 3 } }), ...closed('bad-connect-flags') },
  { name: 'connect-password-without-username', spec: '[MQTT-3.1.2-22]', start: 'fresh', bytes: connect({ clientId: 'c', password: 'pw' }), ...closed('bad-connect-flags') },
  { name: 'connect-empty-id-persistent', spec: '[MQTT-3.1.3-8]', start: 'fresh', bytes: connect({ clientId: '', clean: false }), ...refused(2, 'empty-client-id-persistent') },
  { name: 'connect-client-id-invalid-utf8', spec: '[MQTT-1.5.3-1]', start: 'fresh', bytes: connect({ clientId: [0x63, 0xff, 0x63] }), ...closed('invalid-utf8') },
  { name: 'connect-client-id-nul', spec: '[MQTT-1.5.3-2]', start: 'fresh', bytes: connect({ clientId: [0x63, 0x00, 0x63] }), ...closed('nul-character') },
  { name: 'connect-client-id-surrogate', spec: '[MQTT-1.5.3-1] U+D800 encoded', start: 'fresh', bytes: connect({ clientId: [0x63, 0xed, 0xa0, 0x80] }), ...closed('invalid-utf8') },
  { name: 'connect-client-id-over-256-bytes', spec: 'client ids up to 256 bytes (docs/mqtt.md)', start: 'fresh', bytes: connect({ clientId: 'c'.repeat(257) }), ...refused(2, 'client-id-too-long') },
{ name: 'connect-username-nul', spec: '[MQTT-1.5.3-2]', start: 'fresh', bytes: connect({ clientId: 'c', username: [0x75, 0x00], password: 'pw' }), ...closed('nul-character') },
  { name: 'connect-will-topic-wildcard', spec: '[MQTT-3.1.3-11] [MQTT-3.3.2-2]', start: 'fresh', bytes: connect({ clientId: 'c', will: { topic: 'w/#', message: 'bye' } }), ...closed('bad-will-topic') },
  { name: 'connect-will-topic-invalid-utf8', spec: '[MQTT-1.5.3-1]', start: 'fresh', bytes: connect({ clientId: 'c', will: { topic: [0x77, 0xc0, 0x80], message: 'bye' } }), ...closed('invalid-utf8') },
  { name: 'connect-will-topic-empty', spec: '[MQTT-4.7.3-1]', start: 'fresh', bytes: connect({ clientId: 'c', will: { topic: '', message: 'bye' } }), ...closed('bad-will-topic') },
  { name: 'connect-trailing-bytes', spec: '[MQTT-3.1.3] fields end the packet', start: 'fresh', bytes: frame(0x10, ...connectFields({ clientId: 'c' }).map(([, b]) => b), Buffer.from([0xde, 0xad])), ...closed('trailing-bytes') },
  { name: 'connect-unknown-user-__proto__', spec: 'no user __proto__ (docs/mqtt.md)', start: 'fresh', bytes: connect({ clientId: 'c', username: '__proto__', password: 'pw' }), ...refused(4, 'bad-credentials') },

  // -- client ids that are property names: valid, and must not reach an object's prototype
  { name: 'client-id-__proto__', spec: 'client ids are opaque [MQTT-3.1.3-5]', start: 'fresh', bytes: connect({ clientId: '__proto__', clean: false }), outcome: { serves: true }, counted: { metric: 'ringhub_connections_total', label: 'listener' } },
  { name: 'client-id-constructor', spec: 'client ids are opaque [MQTT-3.1.3-5]', start: 'fresh', bytes: connect({ clientId: 'constructor', clean: false }), outcome: { serves: true }, counted: { metric: 'ringhub_connections_total', label: 'listener' } },
  { name: 'client-id-hasOwnProperty', spec: 'client ids are opaque [MQTT-3.1.3-5]', start: 'fresh', bytes: connect({ clientId: 'hasOwnProperty', clean: true }), outcome: { serves: true }, counted: { metric: 'ringhub_connections_total', label: 'listener' } },

  // -- PUBLISH topics [MQTT-3.3.2], [MQTT-1.5.3], [MQTT-4.7]
  { name: 'publish-topic-plus', spec: '[MQTT-3.3.2-2]', start: 'session', bytes: publish('a/+/b', { qos: 1, id: 3 }), ...closed('client-error') },
  { name: 'publish-topic-hash', spec: '[MQTT-3.3.2-2]', start: 'session', bytes: publish('a/#', { qos: 1, id: 3 }), ...closed('client-error') },
  { name: 'publish-topic-empty', spec: '[MQTT-4.7.3-1]', start: 'session', bytes: publish('', { qos: 1, id: 3 }), ...closed('client-error') },
  { name: 'publish-topic-invalid-utf8', spec: '[MQTT-1.5.3-1]', start: 'session', bytes: publish([0x61, 0x2f, 0xff], { qos: 1, id: 3 }), ...closed('invalid-utf8') },
  { name: 'publish-topic-overlong-nul', spec: '[MQTT-1.5.3-1] C0 80', start: 'session', bytes: publish([0x61, 0x2f, 0xc0, 0x80], { qos: 1, id: 3 }), ...closed('invalid-utf8') },
  { name: 'publish-topic-surrogate', spec: '[MQTT-1.5.3-1] U+D800 encoded', start: 'session', bytes: publish([0x61, 0x2f, 0xed, 0xa0, 0x80], { qos: 1, id: 3 }), ...closed('invalid-utf8') },
  { name: 'publish-topic-cut-utf8', spec: '[MQTT-1.5.3-1] E2 82 (3-byte sequence cut)', start: 'session', bytes: publish([0x61, 0x2f, 0xe2, 0x82], { qos: 1, id: 3 }), ...closed('invalid-utf8') },
  { name: 'publish-topic-nul', spec: '[MQTT-1.5.3-2]', start: 'session', bytes: publish([0x61, 0x2f, 0x00, 0x62], { qos: 1, id: 3 }), ...closed('nul-character') },
  { name: 'publish-topic-101-levels', spec: 'maxTopicLevels (docs/mqtt.md)', start: 'session', bytes: publish(levels(CORPUS_MAX_TOPIC_LEVELS + 1), { qos: 1, id: 3 }), ...closed('client-error') },
  { name: 'publish-packet-id-0', spec: '[MQTT-2.3.1-1]', start: 'session', bytes: publish('a/b', { qos: 1, id: 0 }), ...closed('packet-id-zero') },
  { name: 'publish-qos2-packet-id-0', spec: '[MQTT-2.3.1-1]', start: 'session', bytes: publish('a/b', { qos: 2, id: 0 }), ...closed('packet-id-zero') },
  { name: 'publish-qos1-no-packet-id', spec: '[MQTT-3.3.2.2] the packet ends after the topic', start: 'session', bytes: frame(0x32, field('a/b')), ...closed('missing-packet-id') },
  { name: 'publish-qos2-half-packet-id', spec: '[MQTT-3.3.2.2] one byte of the packet id', start: 'session', bytes: frame(0x34, field('a/b'), Buffer.from([7])), ...closed('missing-packet-id') },

  // -- SUBSCRIBE / UNSUBSCRIBE [MQTT-3.8], [MQTT-3.10], [MQTT-4.7]
  { name: 'subscribe-no-filters', spec: '[MQTT-3.8.3-3]', start: 'session', bytes: frame(0x82, u16(1)), ...closed('client-error') },
  { name: 'subscribe-qos-3', spec: '[MQTT-3-8.3-4]', start: 'session', bytes: subscribe(1, [['a/b', 3]]), ...closed('client-error') },
  { name: 'subscribe-reserved-option-bits', spec: '[MQTT-3-8.3-4]', start: 'session', bytes: subscribe(1, [['a/b', 0x41]]), ...closed('client-error') },
  { name: 'subscribe-packet-id-0', spec: '[MQTT-2.3.1-1]', start: 'session', bytes: subscribe(0, [['a/b', 1]]), ...closed('packet-id-zero') },
  { name: 'subscribe-filter-empty', spec: '[MQTT-4.7.3-1]', start: 'session', bytes: subscribe(1, [['', 0]]), ...closed('client-error') },
  { name: 'subscribe-filter-hash-not-last', spec: '[MQTT-4.7.1-2]', start: 'session', bytes: subscribe(1, [['a/#/b', 0]]), ...closed('client-error') },
  { name: 'subscribe-filter-plus-in-level', spec: '[MQTT-4.7.1-3]', start: 'session', bytes: subscribe(1, [['a/b+/c', 0]]), ...closed('client-error') },
  { name: 'subscribe-filter-invalid-utf8', spec: '[MQTT-1.5.3-1]', start: 'session', bytes: subscribe(1, [[[0x61, 0x2f, 0xff], 0]]), ...closed('invalid-utf8') },
  { name: 'subscribe-filter-nul', spec: '[MQTT-1.5.3-2]', start: 'session', bytes: subscribe(1, [[[0x61, 0x00], 0]]), ...closed('nul-character') },
  { name: 'subscribe-filter-101-levels', spec: 'maxTopicLevels (docs/mqtt.md)', start: 'session', bytes: subscribe(1, [[levels(CORPUS_MAX_TOPIC_LEVELS + 1), 0]]), ...closed('client-error') },
  { name: 'unsubscribe-no-filters', spec: '[MQTT-3.10.3-2]', start: 'session', bytes: frame(0xa2, u16(1)), ...closed('bad-unsubscribe') },
  { name: 'unsubscribe-filter-empty', spec: '[MQTT-4.7.3-1]', start: 'session', bytes: unsubscribe(1, ['a/b', '']), ...closed('bad-unsubscribe') },
  { name: 'unsubscribe-packet-id-0', spec: '[MQTT-2.3.1-1]', start: 'session', bytes: unsubscribe(0, ['a/b']), ...closed('packet-id-zero') },
  { name: 'unsubscribe-filter-invalid-utf8', spec: '[MQTT-1.5.3-1]', start: 'session', bytes: unsubscribe(1, [[0x61, 0xff]]), ...closed('invalid-utf8') },

  // -- a device outside its own topics (the default ACL, docs/mqtt.md)
  { name: 'device-subscribe-other-device', spec: 'SUBACK 0x80 per refused filter [MQTT-3.9.3]', start: 'device', bytes: subscribe(1, [[`devices/${CORPUS_DEVICE}/#`, 1], ['devices/other/#', 1]]), outcome: { suback: [1, 0x80] }, counted: { metric: 'ringhub_acl_denials_total', label: 'subscribe' } },
  { name: 'device-publish-other-device', spec: 'no negative PUBACK in 3.1.1: closed (docs/mqtt.md)', start: 'device', bytes: publish('devices/other/t', { qos: 1, id: 4 }), outcome: { close: true }, counted: { metric: 'ringhub_acl_denials_total', label: 'publish' } },
  { name: 'device-client-id-of-another', spec: 'client ids belong to devices (docs/mqtt.md)', start: 'fresh', bytes: connect({ clientId: 'other', username: CORPUS_DEVICE, password: CORPUS_DEVICE_PASSWORD }), ...refused(2, 'client-id-not-owned') },
  { name: 'device-wrong-password', spec: 'CONNACK 0x04 [MQTT-3.2.2.3]', start: 'fresh', bytes: connect({ clientId: CORPUS_DEVICE, username: CORPUS_DEVICE, password: 'wrong' }), ...refused(4, 'bad-credentials') },
]

// ---- truncation at every field boundary ------------------------------------------------------

/** A valid CONNECT with every optional field (will, user name, password), as wire-order fields. */
export const FULL_CONNECT_FIELDS = connectFields({ clientId: 'trunc', keepalive: 60, will: { topic: 'w/t', message: 'gone', qos: 1 }, username: 'u', password: 'p' })

/** A valid QoS 1 PUBLISH as wire-order fields. */
export const FULL_PUBLISH_FIELDS: Array<[string, Buffer]> = [
  ['topic', field('trunc/t')],
  ['packet id', u16(9)],
  ['payload', bytes('payload')],
]

/**
 * The packet cut after each of its fields (and after the fixed header byte and the Remaining
 * Length): every proper prefix that ends on a field boundary, named by the last whole part.
 */
export function cutsAtFieldBoundaries(header: number, fields: ReadonlyArray<[string, Buffer]>): Array<{ after: string, bytes: Buffer }> {
  const body = Buffer.concat(fields.map(([, b]) => b))
  const whole = frame(header, body)
  const headerBytes = whole.length - body.length
  const cuts = [{ after: 'packet type', bytes: whole.subarray(0, 1) }, { after: 'remaining length', bytes: whole.subarray(0, headerBytes) }]
  let at = headerBytes
  for (const [name, b] of fields.slice(0, -1)) {
    at += b.length
    cuts.push({ after: name, bytes: whole.subarray(0, at) })
  }
  // And one byte short of the end: inside the last field.
  cuts.push({ after: `all but the last byte of ${fields.at(-1)?.[0]}`, bytes: whole.subarray(0, whole.length - 1) })
  return cuts
}

/** mqtt-packet's encoding of a CONNECT for the session cases. */
export const sessionConnect = (clientId: string, keepalive = 0): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive })
