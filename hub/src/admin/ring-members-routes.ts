import type { Logger } from '../base/log.js'
import type { ForgetOutcome } from '../membership/member-table.js'
import type { Member } from '../membership/member.js'
import { sendJson, type AdminServer } from './admin-server.js'

/**
 * `POST /api/ring/members/<id>/forget`: an operator removes a crashed hub from the ring by hand
 * (EMQX's `cluster force-leave`, VerneMQ's `cluster leave -k`), so the survivors count it as left
 * (`MemberTable.forget`). docs/admin-api.md "Forget a dead hub".
 */
export function registerRingMemberRoutes(admin: AdminServer, deps: { swim: { forget(id: string): ForgetOutcome, members: Member[] }, log: Logger }): void {
  admin.routePrefix('POST /api/ring/members/', (req, res) => {
    const match = /^\/api\/(?:v1\/)?ring\/members\/([^/]+)\/forget$/.exec((req.url ?? '').split('?')[0] ?? '')
    if (!match) return sendJson(res, 404, { error: 'expected POST /api/ring/members/<id>/forget' })
    let id: string
    try {
      id = decodeURIComponent(match[1] as string)
    } catch {
      admin.countBadRequest(res, 'ring-member')
      return sendJson(res, 400, { error: 'the member id is not valid percent-encoding' })
    }
    const before = deps.swim.members.find((m) => m.id === id)?.state
    const outcome = deps.swim.forget(id)
    switch (outcome) {
      case 'forgotten':
        deps.log.warn({ member: id }, 'an operator forgot a dead member: it counts as left in the ring')
        return sendJson(res, 200, { member: id, state: 'left', was: before })
      case 'already-left': return sendJson(res, 200, { member: id, state: 'left', was: 'left' })
      case 'unknown': return sendJson(res, 404, { error: `no member ${id} in this hub's view of the ring` })
      case 'self': return sendJson(res, 409, { error: `${id} is this hub: stop it (SIGTERM) to leave the ring` })
      case 'live': return sendJson(res, 409, { error: `${id} is ${before ?? 'alive'} in this hub's view: only a hub held dead can be forgotten (stop it first, or let it leave with SIGTERM)` })
    }
  })
}
