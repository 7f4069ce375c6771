import type { Clock } from '../base/clock.js'
import type { RingLinksResponse, RouterLinkView } from '../contract/admin-api.js'
import type { LinkState } from '../routing/tcp-peer-bus.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { listOf } from './admin-params.js'
import type { RingQuery } from './ring-query.js'

const validLinks = listOf<LinkState & { forMs: number }>('links', { peer: 'string', up: 'boolean', sinceMs: 'number', forMs: 'number' })

/**
 * `GET /api/v1/ring/links`: every hub's router links, as each hub sees its own (the `links`
 * query). Gossip can reach a hub that the router cannot (its router port alone blocked, a
 * black-holed path): such a link shows `up: false` while both hubs are alive. A hub that does
 * not answer is missing from `hubs`; a hub that no hub can reach over the router never answers
 * (its links show down from the others).
 */
export function registerLinks(deps: { admin: AdminServer, ring: RingQuery, clock: Clock, linkStates: () => LinkState[] }): void {
  const { admin, ring, clock, linkStates } = deps
  // Each hub says how long by its own clock: hubs' clocks (and the reader's) may differ.
  ring.handle('links', () => {
    const now = clock.now()
    return { links: linkStates().map((l) => ({ ...l, forMs: Math.max(0, now - l.sinceMs) })) }
  })
  admin.route('GET /api/v1/ring/links', async (_req, res) => {
    const parts = await ring.gather('links', {}, validLinks)
    const links: RouterLinkView[] = parts.flatMap(({ hub, part }) => part.map((l) => ({ from: hub, to: l.peer, up: l.up, sinceMs: l.sinceMs, forMs: l.forMs })))
    links.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0))
    const body: RingLinksResponse = { hubs: parts.map((p) => p.hub).sort(), links }
    sendJson(res, 200, body)
  })
}
