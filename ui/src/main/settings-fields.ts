/**
 * The desktop settings, their defaults, and one validator per field. Both the IPC handlers (a
 * renderer's `saveSettings`) and the settings file go through these: the renderer may show a
 * page served by any hub, and the file may have been edited or damaged, so neither is trusted
 * (STYLE §11, DESIGN.md §3 invariant 7).
 */
import type { DesktopSettingsInput } from '../../../hub/src/contract/desktop-api.js'

export interface DesktopSettings {
  /** Admin URL of the hub that serves the UI (origin plus optional path); null: none. */
  adminUrl: string | null
  /** Admin token; '' none. Stored encrypted (see settings-store.ts). */
  token: string
  /** Observer seeds, `host:port`; empty: no observer. */
  seeds: string[]
  /** Base64 gossip keys, primary first; empty: plaintext gossip. Stored encrypted. */
  gossipKeys: string[]
  /** Cluster label; '' none. */
  clusterLabel: string
  /** The observer's member id. */
  observerId: string
  profile: 'lan' | 'edge'
}

/** A refused setting: `field` names it, the message says what is allowed. */
export class SettingsError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'SettingsError'
  }
}

export const LIMITS = {
  adminUrlChars: 2_048,
  tokenChars: 512,
  seeds: 32,
  /** A 253-character DNS name or a bracketed IPv6 literal, ':', 5 digits (the gossip wire limit). */
  seedChars: 261,
  gossipKeys: 8,
  gossipKeyBytes: 32,
  clusterLabelChars: 64,
  /** The gossip wire limit on member ids. */
  observerIdChars: 128,
} as const

/** Token characters: URL-safe and base64 alphabets, so it can ride in a header or a URL fragment. */
const TOKEN = /^[A-Za-z0-9._~+/=-]*$/
const MEMBER_ID = /^[A-Za-z0-9._-]+$/
const PRINTABLE = /^[\x20-\x7e]*$/
const SEED = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

export function defaultSettings(hostname: string): DesktopSettings {
  const host = hostname.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64) || 'host'
  return { adminUrl: null, token: '', seeds: [], gossipKeys: [], clusterLabel: '', observerId: `desktop-${host}`, profile: 'lan' }
}

function string(field: string, value: unknown, maxChars: number): string {
  if (typeof value !== 'string') throw new SettingsError(field, `expected a string, got ${describe(value)}`)
  if (value.length > maxChars) throw new SettingsError(field, `longer than ${maxChars} characters`)
  return value
}

function list(field: string, value: unknown, maxItems: number, item: (field: string, v: unknown) => string): string[] {
  if (!Array.isArray(value)) throw new SettingsError(field, `expected an array, got ${describe(value)}`)
  if (value.length > maxItems) throw new SettingsError(field, `more than ${maxItems} entries`)
  return value.map((v, i) => item(`${field}[${i}]`, v))
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

export function adminUrl(value: unknown, field = 'adminUrl'): string | null {
  if (value === null) return null
  const text = string(field, value, LIMITS.adminUrlChars)
  let url: URL
  try { url = new URL(text) } catch { throw new SettingsError(field, 'not a URL') }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(field, `scheme must be http or https, got ${url.protocol.replace(/:$/, '')}`)
  // Credentials in the URL would be shown in the window and logs; the token has its own field.
  if (url.username !== '' || url.password !== '') throw new SettingsError(field, 'must not contain a user name or password')
  if (url.hash !== '') throw new SettingsError(field, 'must not contain a #fragment (the app puts the token there)')
  return url.href
}

export function token(value: unknown, field = 'token'): string {
  const text = string(field, value, LIMITS.tokenChars)
  if (!TOKEN.test(text)) throw new SettingsError(field, 'only letters, digits and - . _ ~ + / = are allowed')
  return text
}

export function seed(field: string, value: unknown): string {
  const text = string(field, value, LIMITS.seedChars)
  const match = SEED.exec(text)
  const port = match ? Number(match[1]) : 0
  if (!match || port < 1 || port > 65_535) throw new SettingsError(field, 'expected host:port with a port in 1…65535 (IPv6 in brackets)')
  return text
}

export function seeds(value: unknown, field = 'seeds'): string[] {
  return list(field, value, LIMITS.seeds, seed)
}

export function gossipKey(field: string, value: unknown): string {
  const text = string(field, value, 64)
  if (!BASE64.test(text) || Buffer.from(text, 'base64').length !== LIMITS.gossipKeyBytes) {
    throw new SettingsError(field, `expected the base64 of ${LIMITS.gossipKeyBytes} bytes (AES-256)`)
  }
  return text
}

export function gossipKeys(value: unknown, field = 'gossipKeys'): string[] {
  return list(field, value, LIMITS.gossipKeys, gossipKey)
}

export function clusterLabel(value: unknown, field = 'clusterLabel'): string {
  const text = string(field, value, LIMITS.clusterLabelChars)
  if (!PRINTABLE.test(text)) throw new SettingsError(field, 'only printable ASCII characters are allowed')
  return text
}

export function observerId(value: unknown, field = 'observerId'): string {
  const text = string(field, value, LIMITS.observerIdChars)
  if (!MEMBER_ID.test(text)) throw new SettingsError(field, 'expected 1 or more letters, digits, - . or _')
  return text
}

export function profile(value: unknown, field = 'profile'): 'lan' | 'edge' {
  if (value !== 'lan' && value !== 'edge') throw new SettingsError(field, 'expected "lan" or "edge"')
  return value
}

/** Field validators by name, in the order of `DesktopSettings`. */
export const FIELDS = { adminUrl, token, seeds, gossipKeys, clusterLabel, observerId, profile } as const

/**
 * A `saveSettings` argument: a plain object with known fields only, each valid. Unknown fields
 * are refused rather than ignored, so a renderer built against another contract fails loudly.
 */
export function settingsInput(value: unknown): DesktopSettingsInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SettingsError('settings', `expected an object, got ${describe(value)}`)
  if (Object.getPrototypeOf(value) !== Object.prototype) throw new SettingsError('settings', 'expected a plain object')
  const input: Record<string, unknown> = {}
  for (const [name, v] of Object.entries(value)) {
    if (!Object.hasOwn(FIELDS, name)) throw new SettingsError(name, 'unknown setting')
    if (v === undefined) continue
    input[name] = FIELDS[name as keyof typeof FIELDS](v)
  }
  return input as DesktopSettingsInput
}

/** `current` with `input` applied (already validated). */
export function applyInput(current: DesktopSettings, input: DesktopSettingsInput): DesktopSettings {
  const next = { ...current }
  for (const [name, v] of Object.entries(input)) {
    if (v !== undefined) (next as Record<string, unknown>)[name] = v
  }
  return next
}
