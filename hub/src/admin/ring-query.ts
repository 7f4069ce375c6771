import type { Logger } from '../base/log.js'
import type { AdminQueryRequest, RouterReply } from '../routing/messages.js'
import type { PeerBus } from '../routing/peer-bus.js'
import type { AdminMetrics } from './admin-metrics.js'

/** How long a hub waits for a peer's part of a ring-wide answer, ms; a late peer is left out. */
export const PEER_QUERY_TIMEOUT_MS = 1_500

/** The reason text a hub answers a query it does not know with (a newer hub's query). */
const UNKNOWN_QUERY = 'unknown admin query '

/** A peer answered that it does not know the query: an older hub, during a rolling upgrade. */
export class UnknownQueryError extends Error {
  constructor(readonly hub: string, readonly query: string) {
    super(`${hub} does not know admin query ${query} (an older version?)`)
    this.name = 'UnknownQueryError'
  }
}

/** Checks a peer's JSON answer; undefined when it has the wrong shape (counted, left out). */
export type Validate<T> = (v: unknown) => T | undefined
type QueryHandler = (params: Record<string, unknown>, from: string) => unknown

export interface RingQueryDeps {
  self: string
  bus: Pick<PeerBus, 'request'>
  router: { serve(types: readonly ['admin-query'], handler: (from: string, r: AdminQueryRequest) => Promise<RouterReply>): void }
  /** Alive hubs other than this one. */
  peers: () => readonly string[]
  metrics: AdminMetrics
  log: Logger
}

/**
 * "Any hub answers for the whole ring" (issue 6): each hub answers named queries for its own part
 * (`handle`), and the hub an operator asks gathers the parts of every alive hub over the router
 * link (`gather`), or asks one hub, e.g. a key's owner (`ask`). A peer that does not answer in
 * time, or answers garbage, is left out and counted: the operator gets the rest, not an error.
 */
export class RingQuery {
  readonly #handlers = new Map<string, QueryHandler>()
  /** `hub\0query` pairs already logged as unknown there: logged once, not at every poll. */
  readonly #unknownTold = new Set<string>()

  constructor(private readonly deps: RingQueryDeps) {
    deps.router.serve(['admin-query'], async (from, r) => {
      const refuse = (reason: string): RouterReply => {
        deps.metrics.badRequests.inc({ reason: 'peer-query' })
        deps.log.warn({ from, query: r.query, reason }, 'malformed admin query from a peer')
        return { t: 'failed', reason }
      }
      const handler = this.#handlers.get(r.query)
      // A query a newer hub added (STYLE §6): answered with an error, not counted as bad input,
      // so a UI polling a new route through a ring mid-upgrade does not fill the logs.
      if (!handler) {
        deps.log.debug({ from, query: r.query }, 'admin query this hub does not know')
        return { t: 'failed', reason: `${UNKNOWN_QUERY}${r.query}` }
      }
      let params: unknown
      try {
        params = JSON.parse(r.params)
      } catch {
        return refuse('admin query params are not JSON')
      }
      if (typeof params !== 'object' || params === null || Array.isArray(params)) return refuse('admin query params must be an object')
      try {
        return { t: 'admin-answer', body: JSON.stringify(await handler(params as Record<string, unknown>, from)) }
      } catch (err) {
        return { t: 'failed', reason: err instanceof Error ? err.message : String(err) }
      }
    })
  }

  /** Answers `query` for this hub's own part (also when this hub is the one asked). */
  handle(query: string, handler: QueryHandler): void {
    this.#handlers.set(query, handler)
  }

  /**
   * Every alive hub's part, this hub's first; hubs that failed are left out. `params` may differ
   * per hub (a function of the hub asked).
   */
  async gather<T>(query: string, params: Record<string, unknown> | ((hub: string) => Record<string, unknown>), validate: Validate<T>): Promise<Array<{ hub: string, part: T }>> {
    const hubs = [this.deps.self, ...this.deps.peers()]
    const parts: Array<{ hub: string, part: T }> = []
    await Promise.all(hubs.map(async (hub) => {
      try {
        parts.push({ hub, part: await this.ask(hub, query, typeof params === 'function' ? params(hub) : params, validate) })
        // Known there now (upgraded): should it forget the query again (a rollback), say so again.
        if (this.#unknownTold.size > 0) this.#unknownTold.delete(`${hub}\u0000${query}`)
      } catch (err) {
        this.deps.metrics.peerQueryFailures.inc({ query })
        this.failed(err, hub, query, 'a hub did not answer an admin query; its part is left out')
      }
    }))
    // This hub's part first, then the peers' in a stable order.
    return parts.sort((a, b) => (a.hub === this.deps.self ? -1 : b.hub === this.deps.self ? 1 : a.hub < b.hub ? -1 : 1))
  }

  /**
   * Logs a failed `ask` (`gather` does for its parts; callers of `ask` may too). A hub that does
   * not know the query (an older one, mid-upgrade) is said once at info, then at debug: a UI polls
   * some queries every 2 s, and the part is missing for as long as the upgrade takes. Other
   * failures (a timeout, a bad answer) are said each time, with `message`.
   */
  failed(err: unknown, hub: string, query: string, message: string): void {
    if (!(err instanceof UnknownQueryError)) {
      this.deps.log.info({ err, peer: hub, query }, message)
      return
    }
    const told = `${hub}\u0000${query}`
    const first = !this.#unknownTold.has(told)
    this.#unknownTold.add(told)
    this.deps.log[first ? 'info' : 'debug']({ peer: hub, query }, 'a hub does not know this admin query (an older version?); its part is left out until it is upgraded')
  }

  /** One hub's part; rejects when it fails, times out or answers with the wrong shape (`UnknownQueryError`: a query the hub does not know). */
  async ask<T>(hub: string, query: string, params: Record<string, unknown>, validate: Validate<T>): Promise<T> {
    let raw: unknown
    if (hub === this.deps.self) {
      const handler = this.#handlers.get(query)
      if (!handler) throw new Error(`unknown admin query ${query}`)
      // Through JSON like a peer's answer, so local and remote parts look exactly alike.
      raw = JSON.parse(JSON.stringify(await handler(params, hub)) ?? 'null')
    } else {
      const reply = await this.deps.bus.request(hub, { t: 'admin-query', query, params: JSON.stringify(params) }, PEER_QUERY_TIMEOUT_MS)
      if (reply.t === 'failed' && reply.reason === `${UNKNOWN_QUERY}${query}`) throw new UnknownQueryError(hub, query)
      if (reply.t !== 'admin-answer') throw new Error(reply.t === 'failed' ? reply.reason : `unexpected reply ${reply.t}`)
      raw = JSON.parse(reply.body)
    }
    const part = validate(raw)
    if (part === undefined) throw new Error(`malformed answer to admin query ${query} from ${hub}`)
    return part
  }
}
