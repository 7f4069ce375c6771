import { describe, expect, it } from 'vitest'
import type { Subscriber } from '../../hub/src/admin/admin-ws.js'
import { applyRingDelta, ringDelta } from '../../hub/src/admin/ring-delta.js'
import { RingFeed } from '../../hub/src/admin/ws-channels.js'
import { parseClientFrame } from '../../hub/src/admin/ws-frames.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { AdminServerFrame } from '../../hub/src/contract/admin-api.js'
import type { RingMemberView, RingView } from '../../hub/src/contract/ring-view.js'

const m = (id: string, state: RingMemberView['state'] = 'alive', incarnation = 1, share = 0.5): RingMemberView =>
  ({ id, state, incarnation, addresses: { gossip: `10.0.0.${id.length}:7946` }, meta: { role: 'hub' }, share })
const view = (checksum: string, ...members: RingMemberView[]): RingView => ({ apiVersion: 1, self: 'h1', checksum, members })

describe('ring deltas', () => {
  it.each([
    ['a member suspected', view('c1', m('h1'), m('h2')), view('c1', m('h1'), m('h2', 'suspect')), ['h2'], []],
    ['a member refuted (incarnation)', view('c1', m('h1'), m('h2', 'suspect')), view('c1', m('h1'), m('h2', 'alive', 2)), ['h2'], []],
    ['a hub joined: shares of all change', view('c1', m('h1', 'alive', 1, 1)), view('c2', m('h1'), m('h3')), ['h1', 'h3'], []],
    ['a member reaped', view('c1', m('h1'), m('h2', 'dead', 3, 0)), view('c1', m('h1')), [], ['h2']],
    ['only the checksum', view('c1', m('h1')), view('c2', m('h1')), [], []],
  ] as const)('%s: the changed members and the removed ids, and applying it gives the new view', (_name, before, after, changed, removed) => {
    const delta = ringDelta(before, after)
    expect(delta?.members.map((x) => x.id)).toEqual(changed)
    expect(delta?.removed).toEqual(removed)
    expect(delta?.checksum).toBe(after.checksum)
    expect(applyRingDelta(before, delta as NonNullable<typeof delta>)).toEqual(after)
  })

  it('no change: no delta', () => {
    expect(ringDelta(view('c1', m('h1'), m('h2')), view('c1', m('h1'), m('h2')))).toBeUndefined()
  })

  it.each([
    ['{"ref":"1","op":"subscribe","channel":"ring","deltas":true}', { ok: true, frame: { channel: 'ring', deltas: true } }],
    ['{"ref":"1","op":"subscribe","channel":"ring","deltas":false}', { ok: true, frame: { channel: 'ring' } }],
    ['{"ref":"1","op":"subscribe","channel":"ring","deltas":"yes"}', { ok: false, code: 'bad-option', ref: '1' }],
  ])('subscribe frame %s', (text, expected) => {
    expect(parseClientFrame(text)).toMatchObject(expected)
  })

  it('the ring channel sends whole views by default and deltas to a socket that asked, each once per change', () => {
    const clock = new ManualClock()
    let current = view('c1', m('h1'), m('h2'), m('h3'))
    const feed = new RingFeed({ clock, view: () => current })
    const whole: AdminServerFrame[] = []
    const deltas: AdminServerFrame[] = []
    const sub = (into: AdminServerFrame[]): Subscriber => ({ send: (f) => { into.push(f) } })
    expect(feed.open(sub(whole), { ref: 'a', op: 'subscribe', channel: 'ring' }).initial).toEqual({ op: 'ring', ring: current })
    expect(feed.open(sub(deltas), { ref: 'b', op: 'subscribe', channel: 'ring', deltas: true }).initial).toEqual({ op: 'ring', ring: current })
    let copy = current

    current = view('c1', m('h1'), m('h2'), m('h3', 'suspect'))
    feed.changed()
    feed.changed() // coalesced
    clock.advance(0)
    expect(whole).toEqual([{ op: 'ring', ring: current }])
    expect(deltas).toEqual([{ op: 'ringDelta', delta: { checksum: 'c1', members: [m('h3', 'suspect')], removed: [] } }])
    copy = applyRingDelta(copy, (deltas[0] as Extract<AdminServerFrame, { op: 'ringDelta' }>).delta)

    current = view('c2', m('h1', 'alive', 1, 0.6), m('h2', 'alive', 1, 0.4), m('h3', 'dead', 1, 0))
    feed.changed()
    clock.advance(0)
    copy = applyRingDelta(copy, (deltas[1] as Extract<AdminServerFrame, { op: 'ringDelta' }>).delta)
    expect(copy).toEqual(current)

    // An event that changed nothing this hub shows: a whole view again, no delta.
    feed.changed()
    clock.advance(0)
    expect(whole).toHaveLength(3)
    expect(deltas).toHaveLength(2)
  })
})
