import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** Why a request to `/api/*` or the admin WebSocket was refused. */
export interface AuthRefusal { status: 401 | 403, reason: string }

/**
 * Who may use the admin API (docs/admin-api.md "Auth"). With a token configured, every request
 * must carry `Authorization: Bearer <token>` (the WebSocket may pass `?token=` instead: browsers
 * cannot set headers on a WebSocket). Without one, only loopback clients are served: the demo on
 * one machine needs no set-up, and a hub on a network never serves its API unauthenticated.
 */
export class AdminAuth {
  readonly #tokenDigest: Buffer | undefined

  constructor(token: string | undefined) {
    // Compared as SHA-256 digests: equal lengths, so timingSafeEqual neither throws nor leaks the length.
    this.#tokenDigest = token ? digest(token) : undefined
  }

  get required(): boolean { return this.#tokenDigest !== undefined }

  /** undefined when the request may proceed. `allowQueryToken`: the WebSocket upgrade only. */
  check(req: IncomingMessage, allowQueryToken = false): AuthRefusal | undefined {
    if (!this.#tokenDigest) {
      if (!isLoopback(req.socket.remoteAddress)) return { status: 403, reason: 'the admin API is served to loopback clients only while no admin token is set: start the hub with --admin-token (or RINGHUB_ADMIN_TOKEN) and send Authorization: Bearer <token>' }
      // Loopback alone does not prove an operator: any web page open in a browser on this machine
      // can reach 127.0.0.1 (cross-site requests and WebSockets carry its Origin) or rebind a name
      // of its own to it (its Host is then not a loopback name). Both need the token.
      if (!isLoopbackHost(req.headers.host)) return { status: 403, reason: 'without an admin token, the admin API answers requests to localhost / 127.0.0.1 / [::1] only; set --admin-token to use another name' }
      if (!sameOrigin(req)) return { status: 403, reason: 'without an admin token, cross-origin requests are refused (a web page must not drive the hub); open the UI from this hub or set --admin-token' }
      return undefined
    }
    const presented = bearerOf(req) ?? (allowQueryToken ? queryTokenOf(req) : undefined)
    if (presented === undefined) return { status: 401, reason: 'missing admin token: send Authorization: Bearer <token>' }
    if (!timingSafeEqual(digest(presented), this.#tokenDigest)) return { status: 401, reason: 'wrong admin token' }
    return undefined
  }
}

export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1'
}

/** The Host header names this machine's loopback (any port). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return true // HTTP/1.0 clients send none; the address check above already passed
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]
  return name === 'localhost' || name === '127.0.0.1' || name === '[::1]' || (name?.startsWith('127.') ?? false)
}

/** No Origin (not a browser, or a same-origin GET), or an Origin whose host:port is the Host asked. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false // "null" (a file:// page, a sandboxed frame) or garbage
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (typeof header !== 'string') return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m ? m[1] : undefined
}

function queryTokenOf(req: IncomingMessage): string | undefined {
  const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token')
  return token === null || token === '' ? undefined : token
}
