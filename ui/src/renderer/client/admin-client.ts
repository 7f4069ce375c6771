/**
 * The admin API over HTTP (docs/admin-api.md, hub/src/contract/admin-api.ts): the one place in
 * the renderer that knows URLs and sends the token (`Authorization: Bearer`). Routes that existed
 * before v1 (`/api/ring`, `/api/ring/owner`, `/api/devices/<id>/commands`) are tried when a hub
 * answers 404 for the v1 path, so the UI also works against a hub one version older.
 */
import type {
  DevicesResponse, PublishRequest, RingLinksResponse, StatsResponse, TimelineEvent, TopicHistoryResponse, TopicsResponse,
} from '../../../../hub/src/contract/admin-api.js'
import type { RingView, RingVnodesView } from '../../../../hub/src/contract/ring-view.js'
import type { ConnectionSettings } from './connection-settings.js'

/** A request the hub refused or could not answer; `status` 0 when no answer came at all. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body?: unknown) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface OwnerAnswer {
  topic: string
  key: string | null
  owner: string | null
  replicas: string[]
}

/** A device command's outcome (docs/admin-api.md "Commands"): the device's value or an error. */
export type CommandAnswer =
  | { ok: true, id: string, device: string, name: string, value: unknown }
  | { ok: false, id?: string, device?: string, name?: string, error: { code: string, message: string } }

/** `POST /api/v1/ring/members/<id>/forget` answered 200 (docs/admin-api.md "Forget a dead hub"). */
export interface ForgetAnswer { member: string, state: 'left', was: string }

/** Longest an ordinary request may take before the UI gives up on it, ms. */
const REQUEST_TIMEOUT_MS = 10_000

export class AdminClient {
  constructor(private readonly settings: () => ConnectionSettings) {}

  ring(): Promise<RingView> { return this.#get('/api/v1/ring', '/api/ring') }

  /** The hub's vnode positions of its ring (docs/admin-api.md). */
  ringVnodes(): Promise<RingVnodesView> { return this.#get('/api/v1/ring/vnodes') }

  /** Every hub's router links (docs/admin-api.md "Router links"); ApiError 404 from a hub before them. */
  links(): Promise<RingLinksResponse> { return this.#get('/api/v1/ring/links') }

  ownerOf(topic: string): Promise<OwnerAnswer> {
    const q = `?topic=${encodeURIComponent(topic)}`
    return this.#get(`/api/v1/ring/owner${q}`, `/api/ring/owner${q}`)
  }

  async timeline(sinceMs?: number): Promise<TimelineEvent[]> {
    const body = await this.#get<{ events: TimelineEvent[] }>(`/api/v1/timeline${query({ sinceMs })}`)
    return body.events
  }

  stats(sinceMs?: number, hub?: string): Promise<StatsResponse> { return this.#get(`/api/v1/stats${query({ sinceMs, hub })}`) }

  /** At most 1000 a request (the hub's cap); `total` says how many match in the ring. */
  devices(search = '', limit = 1_000): Promise<DevicesResponse> { return this.#get(`/api/v1/devices${query({ search: search || undefined, limit })}`) }

  /** The most recently published first, at most `limit` (the hub answers at most 20,000). */
  topics(prefix = '', limit = 5_000): Promise<TopicsResponse> { return this.#get(`/api/v1/topics${query({ prefix: prefix || undefined, limit })}`) }

  /** One page in topic order after the cursor `after` (topic-pages.ts reads them all). */
  topicsPage(after: string | undefined, limit: number): Promise<TopicsResponse> { return this.#get(`/api/v1/topics${query({ order: 'topic', after, limit })}`) }

  history(topic: string, limit = 200): Promise<TopicHistoryResponse> { return this.#get(`/api/v1/topics/history${query({ topic, limit })}`) }

  async publish(req: PublishRequest): Promise<void> { await this.#send('POST', '/api/v1/publish', req) }

  /**
   * Makes a hub this hub holds dead count as left, here and through gossip everywhere (docs/admin-api.md
   * "Forget a dead hub"); ApiError 409 when it is alive or suspect here, 404 when unknown.
   */
  async forget(hub: string): Promise<ForgetAnswer> {
    // Served under /api/v1 since the route exists: a 404 means the member is unknown.
    return await this.#json<ForgetAnswer>(await this.#fetch('POST', `/api/v1/ring/members/${encodeURIComponent(hub)}/forget`))
  }

  /**
   * Sends a command and resolves with the device's answer or the hub's error (timeout, offline):
   * both are outcomes to show, not failures of the request, so only transport errors reject.
   */
  async command(device: string, name: string, args: unknown, timeoutMs: number): Promise<CommandAnswer> {
    const path = `/devices/${encodeURIComponent(device)}/commands`
    const body = { name, args, timeoutMs }
    // The hub waits up to timeoutMs for the device and answers 504 after it (+ margin).
    const deadline = timeoutMs + REQUEST_TIMEOUT_MS
    let res = await this.#fetch('POST', `/api/v1${path}`, body, deadline)
    if (res.status === 404) res = await this.#fetch('POST', `/api${path}`, body, deadline)
    const answer = await res.json().catch(() => undefined) as CommandAnswer | { error?: string } | undefined
    if (answer && typeof answer === 'object' && 'ok' in answer) return answer
    const message = answer && typeof answer.error === 'string' ? answer.error : `HTTP ${res.status}`
    return { ok: false, error: { code: `http-${res.status}`, message } }
  }

  /** The WebSocket URL; browsers cannot set headers on a WebSocket, so the token is a query parameter. */
  socketUrl(): string {
    const { hubUrl, token } = this.settings()
    return `${hubUrl.replace(/^http/i, 'ws')}/api/v1/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`
  }

  async #get<T>(path: string, legacyPath?: string): Promise<T> {
    let res = await this.#fetch('GET', path)
    if (res.status === 404 && legacyPath) res = await this.#fetch('GET', legacyPath)
    return await this.#json<T>(res)
  }

  async #send(method: 'POST', path: string, body: unknown): Promise<unknown> {
    return await this.#json(await this.#fetch(method, path, body))
  }

  async #fetch(method: string, path: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
    const { hubUrl, token } = this.settings()
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetch(`${hubUrl}${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new ApiError(0, `${method} ${path}: ${(err as Error).message}`)
    }
  }

  async #json<T>(res: Response): Promise<T> {
    const body = await res.json().catch(() => undefined) as unknown
    if (!res.ok) {
      const reason = (body as { error?: unknown } | undefined)?.error
      throw new ApiError(res.status, typeof reason === 'string' ? reason : `HTTP ${res.status}`, body)
    }
    return body as T
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
