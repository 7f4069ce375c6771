import type { IncomingMessage } from 'node:http'

/**
 * Checking what the operator (query strings, bodies) and peer hubs (query answers) send. Every
 * check returns an error text or undefined instead of throwing: bad input is answered, not fatal.
 */

/** A query-string integer in [min, max], `fallback` when absent; an error text otherwise. */
export function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number | string {
  const raw = query.get(name)
  if (raw === null || raw === '') return fallback
  if (!/^-?\d+$/.test(raw)) return `${name} must be an integer in [${min}, ${max}]`
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min || n > max) return `${name} must be an integer in [${min}, ${max}]`
  return n
}

/** A query-string text of at most `maxLength` characters (default ''). */
export function textParam(query: URLSearchParams, name: string, maxLength: number): string | { error: string } {
  const raw = query.get(name) ?? ''
  if (raw.length > maxLength) return { error: `${name} must be at most ${maxLength} characters` }
  if (raw.includes('\u0000')) return { error: `${name} must not contain NUL` }
  return raw
}

export function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://x').searchParams
}

/** The request body as a JSON object, or an error text (too large, not JSON, not an object). */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown> | string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) return `the body is over ${maxBytes} bytes`
    chunks.push(chunk)
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : 'the body must be a JSON object'
  } catch {
    return 'the body is not JSON'
  }
}

/**
 * Largest JSON one hub sends as its part of a ring-wide answer, bytes: well under the inter-hub
 * link's frame limit (8 MiB) and send queue, so an operator's query never disturbs routing.
 */
export const MAX_PART_BYTES = 4 * 1024 * 1024

/** The leading items of `items` whose JSON fits in `maxBytes` (the rest are cut). */
export function fitBytes<T>(items: readonly T[], maxBytes = MAX_PART_BYTES): T[] {
  let bytes = 0
  let n = 0
  for (const item of items) {
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1
    if (bytes > maxBytes) break
    n++
  }
  return items.slice(0, n)
}

// ---- shapes of peers' answers ----

export type Shape = Record<string, 'string' | 'number' | 'boolean' | 'string?' | 'number?' | 'string|null'>

/** True when `v` is an object whose fields have the given types. */
export function hasShape(v: unknown, shape: Shape): boolean {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  for (const [field, type] of Object.entries(shape)) {
    const value = o[field]
    if (type === 'string|null') { if (value !== null && typeof value !== 'string') return false; continue }
    const optional = type.endsWith('?')
    if (optional && value === undefined) continue
    const base = optional ? type.slice(0, -1) : type
    if (typeof value !== base) return false
    if (base === 'number' && !Number.isFinite(value)) return false
  }
  return true
}

/** `{ [field]: T[] }` where every item has `shape`, or undefined. */
export function listOf<T>(field: string, shape: Shape): (v: unknown) => T[] | undefined {
  return (v) => {
    const list = (v as Record<string, unknown> | null)?.[field]
    return Array.isArray(list) && list.every((x) => hasShape(x, shape)) ? list as T[] : undefined
  }
}
