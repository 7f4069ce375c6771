import type { DeviceView, DevicesResponse } from '../contract/admin-api.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { fitBytes, intParam, listOf, queryOf, textParam } from './admin-params.js'
import type { DeviceTracker, LocalDevice } from './device-tracker.js'
import type { RingQuery } from './ring-query.js'

export const MAX_DEVICES_LIMIT = 1_000
/** Most records one hub sends for one query (bounds a peer's answer). */
const PART_LIMIT = 20_000
const validDevices = listOf<LocalDevice>('devices', { id: 'string', online: 'boolean', lastSeenMs: 'number', msgsPerS: 'number', changedMs: 'number' })

/**
 * Merges every hub's records of its own clients into one view per device: online if it is
 * online on any hub (that hub is its hub), else the record seen last wins; rates add up (a
 * device that moved hubs within the window published on both). Sorted by id.
 */
export function mergeDevices(parts: ReadonlyArray<{ hub: string, part: readonly LocalDevice[] }>, ownerOf: (id: string) => string): DeviceView[] {
  const byId = new Map<string, DeviceView>()
  for (const { hub, part } of parts) {
    for (const d of part) {
      const seen = byId.get(d.id)
      if (!seen) {
        byId.set(d.id, { id: d.id, online: d.online, hub, owner: ownerOf(d.id), lastSeenMs: d.lastSeenMs, msgsPerS: d.msgsPerS })
        continue
      }
      const wins = (d.online && !seen.online) || (d.online === seen.online && d.lastSeenMs > seen.lastSeenMs)
      const msgsPerS = Math.round((seen.msgsPerS + d.msgsPerS) * 100) / 100
      if (wins) byId.set(d.id, { ...seen, online: d.online, hub, lastSeenMs: d.lastSeenMs, msgsPerS })
      else seen.msgsPerS = msgsPerS
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** `GET /api/v1/devices?search=&limit=` for the whole ring; also `changedOfRing` for the WS channel. */
export function registerDevices(deps: { admin: AdminServer, ring: RingQuery, devices: DeviceTracker, ownerOf: (id: string) => string }): { changedOfRing: (sinceMs: number) => Promise<DeviceView[]> } {
  const { admin, ring, devices, ownerOf } = deps
  ring.handle('devices', (params) => ({
    devices: fitBytes(devices.list(typeof params.search === 'string' ? params.search : '', PART_LIMIT, typeof params.changedSinceMs === 'number' ? params.changedSinceMs : 0)),
  }))
  admin.route('GET /api/v1/devices', async (req, res) => {
    const query = queryOf(req)
    const search = textParam(query, 'search', 256)
    const limit = intParam(query, 'limit', 100, 1, MAX_DEVICES_LIMIT)
    if (typeof search !== 'string' || typeof limit === 'string') {
      admin.countBadRequest(res, 'devices-query')
      return sendJson(res, 400, { error: typeof limit === 'string' ? limit : (search as { error: string }).error })
    }
    const merged = mergeDevices(await ring.gather('devices', { search }, validDevices), ownerOf)
    const body: DevicesResponse = { devices: merged.slice(0, limit), total: merged.length }
    sendJson(res, 200, body)
  })
  return {
    // Only the changed records: a device online elsewhere whose other hub did not change shows as
    // that hub's record alone (documented in docs/admin-api.md; the list route is the full truth).
    changedOfRing: async (sinceMs) => mergeDevices(await ring.gather('devices', { search: '', changedSinceMs: sinceMs }, validDevices), ownerOf),
  }
}
