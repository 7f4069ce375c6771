import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { HubInfo } from '../contract/hub-info.js'

export interface AdminDeps {
  log: Logger
  metrics: HubMetrics
  info: () => HubInfo
  /** Throws when the hub cannot serve (store unreadable, broker closed). */
  healthCheck: () => void
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/**
 * The admin HTTP server: JSON API under /api, Prometheus /metrics, /healthz. MQTT over WebSocket
 * attaches to `server` from the mqtt layer. Documented in docs/admin-api.md.
 */
export class AdminServer {
  readonly server: Server
  readonly #routes = new Map<string, Handler>()
  readonly #prefixes: Array<[string, Handler]> = []

  constructor(private readonly deps: AdminDeps) {
    this.server = createServer((req, res) => { void this.#dispatch(req, res) })
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

  /** Adds a route, e.g. `GET /api/ring`; later parts of the hub register theirs at start. */
  route(key: `${'GET' | 'POST' | 'PUT' | 'DELETE'} /${string}`, handler: Handler): void {
    this.#routes.set(key, handler)
  }

  /** Adds a route for every path under a prefix, e.g. `POST /api/devices/` (the handler parses the rest). */
  routePrefix(key: `${'GET' | 'POST' | 'PUT' | 'DELETE'} /${string}/`, handler: Handler): void {
    this.#prefixes.push([key, handler])
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve((this.server.address() as AddressInfo).port)
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const key = `${req.method} ${path}`
    const route = this.#routes.get(key) ?? this.#prefixes.find(([prefix]) => key.startsWith(prefix))?.[1]
    try {
      if (route) await route(req, res)
      else sendJson(res, 404, { error: `no route ${req.method} ${path}` })
    } catch (err) {
      this.deps.log.error({ err, path }, 'admin request failed')
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' })
      else res.destroy()
    }
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
