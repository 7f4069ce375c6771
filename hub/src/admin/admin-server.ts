import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { HubInfo } from '../contract/hub-info.js'
import { countTlsHandshakeFailures, type ServerTls } from '../mqtt/server-tls.js'
import { AdminAuth } from './admin-auth.js'
import { AdminMetrics } from './admin-metrics.js'

export interface AdminDeps {
  log: Logger
  metrics: HubMetrics
  info: () => HubInfo
  /** Throws when the hub cannot serve (store unreadable, broker closed). */
  healthCheck: () => void
  /** `--admin-token`: when set, `/api/*` and the admin WebSocket need it; else loopback only. */
  token?: string | undefined
  /** HTTP deadlines (tests shorten them); defaults in DEFAULT_HTTP_TIMEOUTS. */
  httpTimeouts?: HttpTimeouts
}

export interface HttpTimeouts {
  /** A client must have sent its whole request head within this, ms (slowloris): else 408. */
  headersMs: number
  /** …and its whole request, body included, within this, ms: else 408. */
  requestMs: number
  /** How often Node checks both deadlines, ms. */
  checkIntervalMs: number
}

/** Node's defaults (60 s for the head, 300 s in all, checked every 30 s) let an idle socket sit for a minute or more. */
export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({ headersMs: 10_000, requestMs: 60_000, checkIntervalMs: 1_000 })

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const

/** The `reason` of ringhub_admin_bad_requests_total for a 4xx no route counted itself. */
const REASON_BY_STATUS: Record<number, string> = { 400: 'bad-request', 404: 'no-route', 405: 'method-not-allowed', 408: 'timeout', 413: 'body-too-large', 414: 'uri-too-long', 431: 'headers-too-large' }

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

/** Routes under this prefix are the versioned API; every `/api/<x>` route is also `/api/v1/<x>`. */
const V1 = '/api/v1/'

/**
 * The admin HTTP server: JSON API under /api (and /api/v1), Prometheus /metrics, /healthz, and
 * the WebSocket paths (MQTT at /mqtt, the operator channels at /api/v1/ws). Documented in
 * docs/admin-api.md.
 */
export class AdminServer {
  readonly server: Server
  /** The same routes over TLS (`--admin-tls`), when listening. */
  #tlsServer: HttpsServer | undefined
  #auth: AdminAuth
  readonly adminMetrics: AdminMetrics
  readonly #routes = new Map<string, Handler>()
  readonly #prefixes: Array<[string, Handler]> = []
  readonly #upgrades = new Map<string, { handler: UpgradeHandler, authenticated: boolean }>()
  #fallback: Handler | undefined
  /** Responses whose refusal a route already counted under its own reason. */
  readonly #counted = new WeakSet<ServerResponse>()
  readonly #timeouts: HttpTimeouts

  constructor(private readonly deps: AdminDeps) {
    this.#auth = new AdminAuth(deps.token)
    this.adminMetrics = new AdminMetrics(deps.metrics.registry)
    this.#timeouts = deps.httpTimeouts ?? DEFAULT_HTTP_TIMEOUTS
    this.server = createServer(this.#serverOptions(), (req, res) => { void this.#dispatch(req, res) })
    this.server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => this.#clientError(err, socket))
    // One upgrade listener for every WebSocket path: two `ws` servers bound with `server` + `path`
    // on one HTTP server abort each other's upgrades, so the paths are told apart here.
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
    this.#routes.set('GET /api/hub', (_req, res) => sendJson(res, 200, deps.info()))
    this.#routes.set('GET /healthz', (_req, res) => {
      try {
        deps.healthCheck()
        sendJson(res, 200, { status: 'ok' })
      } catch (err) {
        sendJson(res, 503, { status: 'unavailable', error: (err as Error).message })
      }
    })
    this.#routes.set('GET /metrics', async (_req, res) => {
      const body = await deps.metrics.render()
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType })
      res.end(body)
    })
  }

  get auth(): AdminAuth { return this.#auth }

  /**
   * Counts a refused request under `reason` (ringhub_admin_bad_requests_total). A 4xx (other than
   * 401/403, counted as refused) that no route counted is counted by status when it is sent.
   */
  countBadRequest(res: ServerResponse, reason: string): void {
    if (this.#counted.has(res)) return
    this.#counted.add(res)
    this.adminMetrics.badRequests.inc({ reason })
  }

  /** Replaces the admin token (SIGHUP): requests from now on need the new one (or loopback, when unset). */
  useToken(token: string | undefined): void {
    this.#auth = new AdminAuth(token)
  }

  /**
   * Adds a route, e.g. `GET /api/ring` (then also served as `/api/v1/ring`) or `GET /api/v1/stats`
   * (new routes: only there); later parts of the hub register theirs at start.
   */
  route(key: `${'GET' | 'POST' | 'PUT' | 'DELETE'} /${string}`, handler: Handler): void {
    this.#routes.set(key, handler)
  }

  /** Adds a route for every path under a prefix, e.g. `POST /api/devices/` (the handler parses the rest). */
  routePrefix(key: `${'GET' | 'POST' | 'PUT' | 'DELETE'} /${string}/`, handler: Handler): void {
    this.#prefixes.push([key, handler])
  }

  /**
   * Answers GET requests outside `/api` that no route took (the operator UI's files). Consulted
   * last, so it never shadows a route, including the `/api/v1` names of older routes.
   */
  fallback(handler: Handler): void {
    this.#fallback = handler
  }

  /**
   * Serves WebSocket upgrades at `path` (query string ignored). `authenticated`: the admin token
   * rules apply (token in the header or `?token=`); MQTT's own CONNECT authenticates `/mqtt`.
   */
  upgrade(path: string, handler: UpgradeHandler, opts: { authenticated: boolean }): void {
    this.#upgrades.set(path, { handler, authenticated: opts.authenticated })
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port)
  }

  /**
   * Serves every route and WebSocket path over TLS too, on a second port (`--admin-tls`): HTTPS
   * for the API and UI, wss for /mqtt and /channels. Same handlers, so the two ports never drift.
   */
  listenTls(host: string, port: number, tls: ServerTls): Promise<number> {
    const server = createHttpsServer({ ...tls, ...this.#serverOptions() }, (req, res) => { void this.#dispatch(req, res) })
    server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => this.#clientError(err, socket))
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head))
    countTlsHandshakeFailures(server, this.deps, 'admin-tls')
    this.#tlsServer = server
    return listenOn(server, host, port)
  }

  close(): Promise<void> {
    const closing = [this.server, this.#tlsServer].filter((s) => s !== undefined).map((server) => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }))
    return Promise.all(closing).then(() => undefined)
  }

  #find(req: IncomingMessage, path: string): Handler | undefined {
    const found = this.#lookup(req.method ?? 'GET', path)
    // The older handlers read their path from req.url (e.g. the device id of a command).
    if (found?.legacyPath !== undefined) req.url = found.legacyPath + (req.url ?? '').slice(path.length)
    return found?.handler
  }

  #lookup(method: string, path: string): { handler: Handler, legacyPath?: string } | undefined {
    const key = `${method} ${path}`
    const exact = this.#routes.get(key) ?? this.#prefixes.find(([prefix]) => key.startsWith(prefix))?.[1]
    if (exact) return { handler: exact }
    if (!path.startsWith(V1)) return undefined
    // `/api/v1/<x>` is the versioned name of every older `/api/<x>` route.
    const legacyPath = `/api/${path.slice(V1.length)}`
    const legacy = `${method} ${legacyPath}`
    const route = this.#routes.get(legacy) ?? this.#prefixes.find(([prefix]) => legacy.startsWith(prefix))?.[1]
    return route ? { handler: route, legacyPath } : undefined
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string
    res.once('finish', () => {
      const status = res.statusCode
      // A missing UI file is not bad input; a missing API route is.
      if (status < 400 || status >= 500 || status === 401 || status === 403 || (status === 404 && path !== '/api' && !path.startsWith('/api/'))) return
      this.countBadRequest(res, REASON_BY_STATUS[status] ?? `status-${status}`)
    })
    if (path === '/api' || path.startsWith('/api/')) {
      if (this.#cors(req, res)) return
      const refusal = this.auth.check(req)
      if (refusal) {
        this.adminMetrics.refused.inc({ status: String(refusal.status) })
        return sendJson(res, refusal.status, { error: refusal.reason })
      }
    }
    const route = this.#find(req, path) ?? (req.method === 'GET' && path !== '/api' && !path.startsWith('/api/') ? this.#fallback : undefined)
    try {
      if (route) {
        await route(req, res)
      } else {
        const allowed = METHODS.filter((m) => m !== req.method && this.#lookup(m, path) !== undefined)
        if (allowed.length > 0) {
          res.setHeader('allow', allowed.join(', '))
          sendJson(res, 405, { error: `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}` })
        } else {
          sendJson(res, 404, { error: `no route ${req.method} ${path}` })
        }
      }
    } catch (err) {
      this.deps.log.error({ err, path }, 'admin request failed')
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    }
  }

  /**
   * With a token, pages of other origins may call the API (an Electron window loaded from
   * file://, a dashboard elsewhere): the token, not the origin, is what proves the operator, and
   * no cookie is ever involved. Answers the preflight itself (true: done). Without a token,
   * cross-origin requests are refused by AdminAuth, so no CORS headers are sent.
   */
  #cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin
    if (!this.auth.required || origin === undefined) return false
    res.setHeader('access-control-allow-origin', origin)
    res.setHeader('vary', 'origin')
    if (req.method !== 'OPTIONS') return false
    res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, PUT, DELETE', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': '600' })
    res.end()
    return true
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => { /* a reset during the handshake; nothing to answer */ })
    const path = (req.url ?? '/').split('?')[0] as string
    const target = this.#upgrades.get(path)
    if (!target) {
      // Nothing else upgrades on this server: answer, or the socket would hang open forever.
      this.deps.metrics.protocolErrors.inc({ reason: 'websocket-path' })
      return refuseUpgrade(socket, 404, 'Not Found')
    }
    if (target.authenticated) {
      const refusal = this.auth.check(req, true)
      if (refusal) {
        this.adminMetrics.refused.inc({ status: String(refusal.status) })
        return refuseUpgrade(socket, refusal.status, refusal.status === 401 ? 'Unauthorized' : 'Forbidden', refusal.reason)
      }
    }
    target.handler(req, socket, head)
  }
  #serverOptions(): { headersTimeout: number, requestTimeout: number, connectionsCheckingInterval: number } {
    const t = this.#timeouts
    return { headersTimeout: t.headersMs, requestTimeout: t.requestMs, connectionsCheckingInterval: t.checkIntervalMs }
  }

  /**
   * A request Node's HTTP parser refused (malformed request line or header, unknown method, head
   * over 16 KiB) or that missed a deadline: answered like every other refusal, with a JSON error,
   * counted, and the connection closed. Node's default answers without a body and counts nothing.
   */
  #clientError(err: Error & { code?: string }, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const [status, text, reason] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'headers-too-large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'timeout']
        : [400, 'Bad Request', 'malformed-http']
    this.adminMetrics.badRequests.inc({ reason })
    this.deps.log.info({ err: err.message, code: err.code }, 'malformed admin HTTP request; connection closed')
    const body = JSON.stringify({ error: status === 400 ? `malformed HTTP request (${err.code ?? err.message})` : text })
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  }
}

function listenOn(server: Server | HttpsServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function refuseUpgrade(socket: Duplex, status: number, text: string, body = ''): void {
  const bytes = Buffer.byteLength(body)
  // end(), not destroy(): the answer must reach the client before the FIN.
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${bytes}\r\n\r\n${body}`)
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
