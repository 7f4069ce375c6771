import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import type { RouterMessage, RouterReply, RouterRequest, WillGuardRequest, WillMessage } from '../../hub/src/routing/messages.js'
import { WillGuard, type WillPacket } from '../../hub/src/mqtt/will-guard.js'

/**
 * Three hubs a, b, c joined by a direct in-memory link (requests answered at once, messages
 * delivered at once, in order), each with its own WillGuard; membership is a set the test changes.
 */
function ring(ids: string[], replicas: string[]) {
  const members = new Set(ids)
  const boots = new Map(ids.map((id) => [id, `${id}-boot-1`]))
  const published = new Map<string, WillPacket[]>(ids.map((id) => [id, []]))
  const marked: string[] = []
  const services = new Map<string, (from: string, r: WillGuardRequest) => Promise<RouterReply>>()
  const listeners = new Map<string, (from: string, m: WillMessage) => void>()
  const guards = new Map<string, WillGuard>()
  const make = (id: string): WillGuard => new WillGuard({
    self: id,
    boot: boots.get(id) as string,
    bus: {
      send: (peer: string, m: RouterMessage) => { if (members.has(peer)) listeners.get(peer)?.(id, m as WillMessage); return members.has(peer) },
      request: async (peer: string, r: RouterRequest) => {
        const serve = services.get(peer)
        if (!serve || !members.has(peer)) throw new Error(`${peer} unreachable`)
        return serve(id, r as WillGuardRequest)
      },
    },
    router: {
      serve: (_types, handler) => { services.set(id, handler) },
      listen: (_types, handler) => { listeners.set(id, handler) },
    },
    replicasOf: (_key, n) => replicas.slice(0, n),
    isMember: (hub) => members.has(hub),
    keyDepth: 2,
    publish: async (will) => { (published.get(id) as WillPacket[]).push(will) },
    markGuarded: async (clientId) => { marked.push(`${id}:${clientId}`) },
    log: silentLogger(),
  })
  for (const id of ids) guards.set(id, make(id))
  const guard = (id: string): WillGuard => guards.get(id) as WillGuard
  return {
    members, published, marked, guard,
    restart(id: string, boot: string): WillGuard { boots.set(id, boot); const g = make(id); guards.set(id, g); return g },
  }
}

const will = (n: string): WillPacket => ({ topic: `devices/${n}/status`, payload: Buffer.from(`${n} offline`), qos: 1, retain: false })
const payloads = (list: WillPacket[]): string[] => list.map((w) => w.payload.toString())

describe('wills guarded by other hubs', () => {
  it('gives a will to the two first hubs of its key other than the client\'s own, and marks it guarded', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d1', will('d1'))
    expect(r.guard('b').stats.held).toBe(1)
    expect(r.guard('c').stats.held).toBe(1)
    expect(r.guard('a').stats.guarded).toBe(1)
    expect(r.marked).toEqual(['a:d1'])
  })

  it('publishes a dead hub\'s wills once, at the first guardian still in the ring', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d1', will('d1'))
    r.members.delete('a')
    r.guard('c').hubDied('a')
    r.guard('b').hubDied('a')
    expect(payloads(r.published.get('b') as WillPacket[])).toEqual(['d1 offline'])
    expect(r.published.get('c')).toEqual([])
    expect(r.guard('b').stats.held).toBe(0)
    expect(r.guard('c').stats.held).toBe(0)
  })

  it('falls to the second guardian when the first is gone too', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d1', will('d1'))
    r.members.delete('a')
    r.members.delete('b')
    r.guard('c').hubDied('a')
    expect(payloads(r.published.get('c') as WillPacket[])).toEqual(['d1 offline'])
  })

  it('drops a will the client took away (clean disconnect), and a hub that left gracefully', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d1', will('d1'))
    await r.guard('a').clientConnected('d2', will('d2'))
    r.guard('a').clientGone('d1')
    expect(r.guard('b').stats.held).toBe(1)
    r.guard('b').hubLeft('a')
    r.guard('b').hubDied('a')
    expect(r.published.get('b')).toEqual([])
  })

  it('publishes the wills of an earlier run when the hub comes back with a new boot before anyone saw it die', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d1', will('d1'))
    // The same run announcing itself again changes nothing.
    r.guard('a').peerJoined('b')
    expect(r.guard('b').stats.held).toBe(1)
    expect(r.published.get('b')).toEqual([])
    const again = r.restart('a', 'a-boot-2')
    again.peerJoined('b')
    again.peerJoined('c')
    expect(payloads(r.published.get('b') as WillPacket[])).toEqual(['d1 offline'])
    expect(r.published.get('c')).toEqual([])
    // A will the new run gives is kept.
    await again.clientConnected('d1', will('d1'))
    expect(r.guard('b').stats.held).toBe(1)
  })

  it('keeps $ wills local and counts a will no guardian took', async () => {
    const r = ring(['a', 'b', 'c'], ['a', 'b', 'c'])
    await r.guard('a').clientConnected('d0', { ...will('d0'), topic: '$SYS/x' })
    expect(r.guard('b').stats.held).toBe(0)
    r.members.delete('b')
    r.members.delete('c')
    await r.guard('a').clientConnected('d1', will('d1'))
    expect(r.guard('a').stats.guardFailures).toBe(1)
    expect(r.marked).toEqual([])
  })
})
