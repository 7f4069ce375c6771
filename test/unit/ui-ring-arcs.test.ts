import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Ring, RING_FORMAT as HUB_RING_FORMAT } from '../../hub/src/ring/ring.js'
import type { RingMemberView, RingView, RingVnodesView } from '../../hub/src/contract/ring-view.js'
import { md5 } from '../../ui/src/renderer/logic/md5.js'
import { arcsOf, hashPosition, keyOwners, replicasOf, RING_FORMAT, ringArcs, ringChecksum } from '../../ui/src/renderer/logic/ring-arcs.js'

// The renderer places vnodes itself (no Node crypto in a browser): it must agree with the hub's
// Ring on every point, every owner and every share, or the circle lies.

const member = (id: string, state: RingMemberView['state'] = 'alive', role = 'hub'): RingMemberView => ({
  id, state, incarnation: 1, addresses: { gossip: '127.0.0.1:1' }, meta: { role }, share: 0,
})

describe('md5 (pure, for the browser)', () => {
  it.each(['', 'a', 'abc', 'hub:h1-0', 'message digest', 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'ü€😀 unicode', 'y'.repeat(1000)])('equals node:crypto for %j', (s) => {
    expect(Buffer.from(md5(s)).toString('hex')).toBe(createHash('md5').update(s, 'utf8').digest('hex'))
  })
})

describe('ring arcs computed in the browser', () => {
  it('names the same ring format and checksum as the hub', () => {
    expect(RING_FORMAT).toBe(HUB_RING_FORMAT)
    for (const ids of [['h1'], ['h1', 'h2', 'h3'], ['gw-a', 'gw-b', 'laptop', 'x:y']]) {
      expect(ringChecksum(RING_FORMAT, [...ids].sort())).toBe(new Ring(ids).checksum)
    }
  })

  it.each([[['h1']], [['h1', 'h2', 'h3']], [['a', 'b', 'c', 'd', 'e']], [['gw-a', 'gw-b', 'laptop']]])('gives each hub exactly its share in %j', (ids) => {
    const ring = new Ring(ids)
    const arcs = arcsOf(ids)
    const shares = new Map<string, number>()
    for (const a of arcs) {
      expect(a.end).toBeGreaterThan(a.start)
      expect(a.start).toBeGreaterThanOrEqual(0)
      expect(a.end).toBeLessThanOrEqual(1)
      shares.set(a.owner, (shares.get(a.owner) ?? 0) + a.end - a.start)
    }
    for (const id of ids) expect(shares.get(id) ?? 0).toBeCloseTo(ring.shareOf(id), 9)
    expect([...shares.values()].reduce((s, x) => s + x, 0)).toBeCloseTo(1, 9)
  })

  it('draws from the hub\'s own vnode positions when its placement differs from the browser\'s (other ring settings)', () => {
    const ids = ['h1', 'h2', 'h3']
    const ring = new Ring(ids)
    // A hub whose checksum the browser cannot reproduce (another format): approximate by itself...
    const view: RingView = { apiVersion: 1, self: 'h1', checksum: 'deadbeef', members: ids.map((id) => member(id)) }
    expect(ringArcs(view).exact).toBe(false)
    // ...exact with the hub's points (here: the real ring's, as GET /api/v1/ring/vnodes sends them).
    const vnodes: RingVnodesView = { apiVersion: 1, checksum: 'deadbeef', format: 'other', positions: Array.from(ring.continuum.positions), owners: [...ring.continuum.owners] }
    const fromHub = ringArcs(view, vnodes)
    expect(fromHub.exact).toBe(true)
    for (const id of ids) expect(fromHub.shares.get(id) ?? 0).toBeCloseTo(ring.shareOf(id), 9)
    expect(fromHub.arcs).toEqual(arcsOf(ids))
    // Points of another ring (a stale answer) are not used.
    expect(ringArcs(view, { ...vnodes, checksum: '00000000' }).exact).toBe(false)
  })

  it('finds the owner and replicas the hub finds, for many keys', () => {
    const ids = ['h1', 'h2', 'h3', 'h4']
    const ring = new Ring(ids)
    const arcs = arcsOf(ids)
    for (let i = 0; i < 100; i++) {
      const key = `devices/d${i}`
      expect(replicasOf(ids, key, 1)[0]).toBe(ring.ownerOf(key))
      expect(replicasOf(ids, key, 3)).toEqual(ring.replicasOf(key, 3))
      // The key's position lies inside one of its owner's arcs.
      const f = hashPosition(key) / 2 ** 32
      const arc = arcs.find((a) => f > a.start && f <= a.end) ?? arcs.find((a) => a.start === 0 && f === 0)
      expect(arc?.owner).toBe(ring.ownerOf(key))
    }
  })

  it('takes only alive and suspect hubs, never observers, and says when its picture is exact', () => {
    const members = [member('h1'), member('h2', 'suspect'), member('h3', 'dead'), member('h4', 'left'), member('obs', 'alive', 'observer')]
    expect(keyOwners(members)).toEqual(['h1', 'h2'])
    const view: RingView = { apiVersion: 1, self: 'h1', checksum: new Ring(['h1', 'h2']).checksum, members }
    const { arcs, shares, exact } = ringArcs(view)
    expect(exact).toBe(true)
    expect(new Set(arcs.map((a) => a.owner))).toEqual(new Set(['h1', 'h2']))
    expect(shares.get('h1')).toBeCloseTo(new Ring(['h1', 'h2']).shareOf('h1'), 9)
    expect(ringArcs({ ...view, checksum: '00000000' }).exact).toBe(false)
  })

  it('draws nothing for an empty ring', () => {
    expect(arcsOf([])).toEqual([])
    expect(replicasOf([], 'devices/x', 2)).toEqual([])
  })
})
