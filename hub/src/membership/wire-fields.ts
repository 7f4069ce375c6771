import { ProtocolError } from '../base/errors.js'
import { MEMBER_ROLES, type MemberAddresses, type MemberMeta, type MemberRole } from './member.js'
import { WIRE_LIMITS } from './messages.js'

/**
 * Strict readers for decoded msgpack bodies. A remote party is untrusted: every field is checked
 * for its exact type and bounds, only own properties of plain objects are read, and unknown
 * fields are ignored (they may be a newer hub's appended fields, STYLE §6). Every failure is a
 * `ProtocolError` with reason 'bad-field' (wrong type or missing) or 'oversize' (over a limit).
 */

export type Fields = Record<string, unknown>

function badField(where: string, expected: string): ProtocolError {
  return new ProtocolError('bad-field', `${where}: expected ${expected}`)
}

/** A plain object (a msgpack map): not an array, Buffer, Date, Map or other class instance. */
export function asFields(value: unknown, where: string): Fields {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw badField(where, 'a map')
  }
  return value as Fields
}

function own(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined
}

export function readString(fields: Fields, key: string, where: string, maxLength: number, minLength = 0): string {
  const value = own(fields, key)
  if (typeof value !== 'string') throw badField(`${where}.${key}`, 'a string')
  if (value.length > maxLength) throw new ProtocolError('oversize', `${where}.${key}: longer than ${maxLength}`)
  if (value.length < minLength) throw badField(`${where}.${key}`, `at least ${minLength} characters`)
  return value
}

export function readOptionalString(fields: Fields, key: string, where: string, maxLength: number, minLength = 0): string | undefined {
  return own(fields, key) === undefined ? undefined : readString(fields, key, where, maxLength, minLength)
}

/** A member id: 1 to `WIRE_LIMITS.maxIdLength` characters. */
export function readId(fields: Fields, key: string, where: string): string {
  return readString(fields, key, where, WIRE_LIMITS.maxIdLength, 1)
}

/** A non-negative safe integer no larger than `max` (msgpack uint64s beyond 2^53 arrive as bigint and fail here). */
export function readUint(fields: Fields, key: string, where: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = own(fields, key)
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw badField(`${where}.${key}`, `an integer in 0…${max}`)
  }
  return value
}

export function readBoolean(fields: Fields, key: string, where: string): boolean {
  const value = own(fields, key)
  if (typeof value !== 'boolean') throw badField(`${where}.${key}`, 'a boolean')
  return value
}

/** msgpack bin, copied so the result does not pin the packet's buffer. */
export function readOptionalBytes(fields: Fields, key: string, where: string, maxBytes: number): Uint8Array | undefined {
  const value = own(fields, key)
  if (value === undefined) return undefined
  if (!(value instanceof Uint8Array)) throw badField(`${where}.${key}`, 'bytes')
  if (value.byteLength > maxBytes) throw new ProtocolError('oversize', `${where}.${key}: more than ${maxBytes} bytes`)
  return new Uint8Array(value)
}

export function readArray(fields: Fields, key: string, where: string, maxItems: number): unknown[] {
  const value = own(fields, key)
  if (!Array.isArray(value)) throw badField(`${where}.${key}`, 'an array')
  if (value.length > maxItems) throw new ProtocolError('oversize', `${where}.${key}: more than ${maxItems} items`)
  return value
}

export function readAddresses(fields: Fields, key: string, where: string): MemberAddresses {
  const at = `${where}.${key}`
  const map = asFields(own(fields, key), at)
  const max = WIRE_LIMITS.maxAddressLength
  const addresses: MemberAddresses = { gossip: readString(map, 'gossip', at, max, 1) }
  const mqtt = readOptionalString(map, 'mqtt', at, max, 1)
  const admin = readOptionalString(map, 'admin', at, max, 1)
  const interHub = readOptionalString(map, 'interHub', at, max, 1)
  if (mqtt !== undefined) addresses.mqtt = mqtt
  if (admin !== undefined) addresses.admin = admin
  if (interHub !== undefined) addresses.interHub = interHub
  return addresses
}

/** Meta keys are identifiers; this also keeps `__proto__` and friends out. */
const META_KEY = /^[A-Za-z][A-Za-z0-9_.-]*$/

/**
 * Member metadata: string values only, `version` and `role` required, `role` one this version
 * knows (an unknown role cannot be placed in the ring, so the message is refused rather than
 * guessed at; new roles need a protocol version).
 */
export function readMeta(fields: Fields, key: string, where: string): MemberMeta {
  const at = `${where}.${key}`
  const map = asFields(own(fields, key), at)
  const entries = Object.entries(map)
  if (entries.length > WIRE_LIMITS.maxMetaFields) throw new ProtocolError('oversize', `${at}: more than ${WIRE_LIMITS.maxMetaFields} fields`)
  for (const [name, value] of entries) {
    if (name.length > WIRE_LIMITS.maxMetaKeyLength || !META_KEY.test(name)) throw badField(`${at}`, `identifier keys, got ${JSON.stringify(name.slice(0, 80))}`)
    if (typeof value !== 'string') throw badField(`${at}.${name}`, 'a string')
    if (value.length > WIRE_LIMITS.maxMetaValueLength) throw new ProtocolError('oversize', `${at}.${name}: longer than ${WIRE_LIMITS.maxMetaValueLength}`)
  }
  const version = readString(map, 'version', at, WIRE_LIMITS.maxMetaValueLength)
  const role = readString(map, 'role', at, WIRE_LIMITS.maxMetaValueLength)
  if (!(MEMBER_ROLES as readonly string[]).includes(role)) throw badField(`${at}.role`, MEMBER_ROLES.join(' or '))
  return { ...(map as Record<string, string>), version, role: role as MemberRole }
}
