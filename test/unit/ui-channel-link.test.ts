import { describe, expect, it } from 'vitest'
import { ChannelClient, type ClientTimers } from '../../hub/src/client/channels.js'
import type { ChannelMessage } from '../../hub/src/contract/channels.js'
import type { RingMemberView, RingView } from '../../hub/src/contract/ring-view.js'
import { ChannelLink, liveStatusText, type ClientFactory, type LiveState } from '../../ui/src/renderer/client/channel-link.js'
import type { ConnectionSettings } from '../../ui/src/renderer/client/connection-settings.js'
import { FakeSocket } from '../helpers/fake-channel-socket.js'

// The UI's channel link (ui/src/renderer/client/channel-link.ts) driving the real
// `ringhub/channels` client over fake sockets, on virtual time: states the views show, the
// hub list, failover with resume, fallbacks.

/** Timers on virtual time: `advance(ms)` fires what falls due, in order. */
function virtualTimers(): ClientTimers & { advance: (ms: number) => void } {
  let now = 0
  let next = 0
  const timers = new Map<number, { at: number, fn: () => void }>()
  return {
    setTimeout: (fn, ms) => { timers.set(++next, { at: now + ms, fn }); return next },
    clearTimeout: (h) => { timers.delete(h as number) },
    setInterval: () => ++next, // heartbeats are not driven here
    clearInterval: () => {},
    advance: (ms) => {
      const end = now + ms
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= end).sort((x, y) => x[1].at - y[1].at)[0]
        if (!due) break
        timers.delete(due[0])
        now = due[1].at
        due[1].fn()
      }
      now = end
    },
  }
}

const member = (id: string, admin: string, state: RingMemberView['state'] = 'alive', role = 'hub'): RingMemberView =>
  ({ id, state, incarnation: 1, addresses: { gossip: 'x:1', admin }, meta: { role }, share: role === 'hub' ? 0.5 : 0 })
const ringOf = (...members: RingMemberView[]): RingView => ({ apiVersion: 1, self: 'a', checksum: '00000000', members })

function message(seq: number, topic = 'devices/d1/temp'): ChannelMessage {
  return { op: 'message', join: topic, topic, payload: seq, key: 'devices/d1', epoch: 2, seq, retained: false }
}

/** Lets the link's promise chains (module load, join answers) run. */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

function setup(opts: { ring?: RingView, token?: string, load?: () => Promise<ClientFactory> } = {}) {
  FakeSocket.all = []
  const timers = virtualTimers()
  let settings: ConnectionSettings = { hubUrl: 'http://hub-a:8080', token: opts.token ?? '' }
  let ring = opts.ring ?? ringOf(member('a', 'hub-a:8080'), member('b', 'hub-b:8080'))
  const made: Array<{ urls: readonly string[], auth?: { token: string } }> = []
  const factory: ClientFactory = (o) => {
    made.push(o)
    return new ChannelClient({ ...o, WebSocket: FakeSocket, timers })
  }
  const link = new ChannelLink({ settings: () => settings, ring: () => ring, loadClient: opts.load ?? (() => Promise.resolve(factory)), timers })
  const states: LiveState[] = []
  const got: number[] = []
  return {
    link, timers, made, states, got,
    setSettings: (s: ConnectionSettings) => { settings = s },
    setRing: (r: RingView) => { ring = r },
    join: (topic = 'devices/d1/temp', since?: { epoch: number, seq: number }) => link.join(topic, {
      since: () => since, onMessage: (m) => got.push(m.seq as number), onState: (s) => states.push(s),
    }),
    socket: (i: number) => FakeSocket.all[i] as FakeSocket,
  }
}

describe('the UI\'s channel link', () => {
  it('joins from the view\'s offset once a hub answers, shows which hub, and fails over to the next with a resume from the last offset', async () => {
    const t = setup({ token: 'tok' })
    t.join('devices/d1/temp', { epoch: 2, seq: 10 })
    await settle()
    expect(t.states).toEqual([{ kind: 'connecting' }])
    // The UI's hub first, then the ring's; the admin token as the operator identity.
    expect(t.made).toEqual([{ urls: ['ws://hub-a:8080/channels', 'ws://hub-b:8080/channels'], auth: { token: 'tok' } }])
    const a = t.socket(0)
    expect(a.url).toBe('ws://hub-a:8080/channels?token=tok')
    a.open()
    await settle() // the link joins once the client has made its own rejoins
    const [join] = a.frames('join')
    expect(join).toMatchObject({ topic: 'devices/d1/temp', since: { epoch: 2, seq: 10 } })
    a.answer(join?.ref, { resumed: true })
    await settle()
    expect(t.states.at(-1)).toEqual({ kind: 'channel', hub: 'a' })
    for (const seq of [11, 12, 13]) a.receive(message(seq))
    expect(t.got).toEqual([11, 12, 13])

    // Hub a goes away: the client tries hub b at once and joins from 13.
    a.close(1006, 'gone')
    expect(t.states.at(-1)).toEqual({ kind: 'reconnecting' })
    t.timers.advance(0)
    const b = t.socket(1)
    expect(b.url).toBe('ws://hub-b:8080/channels?token=tok')
    b.open()
    await settle()
    expect(t.states.at(-1)).toEqual({ kind: 'channel', hub: 'b' })
    expect(b.frames('join')[0]).toMatchObject({ topic: 'devices/d1/temp', since: { epoch: 2, seq: 13 } })
    b.answer(b.frames('join')[0]?.ref, { resumed: true })
    for (const seq of [13, 14, 15]) b.receive(message(seq)) // 13 again: the resume overlaps
    expect(t.got).toEqual([11, 12, 13, 14, 15])
    expect(t.link.url).toBe('ws://hub-b:8080/channels')
  })

  it('falls back (unavailable) when no hub acknowledges the join within 3 s, and goes live when one does later', async () => {
    const t = setup()
    t.join()
    await settle()
    t.timers.advance(2_999)
    expect(t.states.at(-1)).toEqual({ kind: 'connecting' })
    t.timers.advance(1)
    expect(t.states.at(-1)).toMatchObject({ kind: 'unavailable' })
    expect((t.states.at(-1) as { reason: string }).reason).toContain('ws://hub-a:8080/channels, ws://hub-b:8080/channels')
    // The hub answers after all (the client kept trying): the view switches to the channel.
    const s = t.socket(0)
    s.open()
    await settle()
    s.answer(s.frames('join')[0]?.ref)
    await settle()
    expect(t.states.at(-1)).toEqual({ kind: 'channel', hub: 'a' })
  })

  it('a join whose connection ends before its answer is made again on the next connection, once', async () => {
    const t = setup()
    t.join()
    await settle()
    const a = t.socket(0)
    a.open()
    await settle()
    expect(a.frames('join')).toHaveLength(1)
    a.close(1006, 'gone') // no answer came
    t.timers.advance(0)
    const b = t.socket(1)
    b.open()
    await settle()
    expect(b.frames('join')).toHaveLength(1)
    b.answer(b.frames('join')[0]?.ref)
    await settle()
    expect(t.states.at(-1)).toEqual({ kind: 'channel', hub: 'b' })
    b.receive(message(1))
    expect(t.got).toEqual([1])
  })

  it('a refused join and a client module that does not load leave the view on its fallback, with the reason', async () => {
    const t = setup()
    t.join()
    await settle()
    const a = t.socket(0)
    a.open()
    await settle()
    a.receive({ ref: a.frames('join')[0]?.ref, op: 'error', code: 'not-authorized', reason: 'subscribe on devices/d1/temp is not allowed' })
    await settle()
    expect(t.states.at(-1)).toEqual({ kind: 'unavailable', reason: 'join refused: subscribe on devices/d1/temp is not allowed' })

    const u = setup({ load: () => Promise.reject(new Error('Failed to fetch dynamically imported module: /hub/client/channels.js')) })
    u.join()
    await settle()
    expect(u.states.at(-1)).toEqual({ kind: 'unavailable', reason: 'channel client not loaded: Failed to fetch dynamically imported module: /hub/client/channels.js' })
    expect(u.made).toEqual([])
    // A later join learns it at once.
    u.join('devices/d2/#')
    expect(u.states.at(-1)).toMatchObject({ kind: 'unavailable' })

    const off = new ChannelLink({ settings: () => ({ hubUrl: 'ringhub-app://bundle', token: '' }), ring: () => undefined, enabled: false, loadClient: () => { throw new Error('not loaded where disabled') } })
    const states: LiveState[] = []
    off.join('devices/d1/#', { onMessage: () => {}, onState: (s) => states.push(s) })
    expect(states.at(-1)).toEqual({ kind: 'unavailable', reason: 'no hub to talk to' })
  })

  it('leaving sends a leave and delivers nothing more; two views share one client', async () => {
    const t = setup()
    const topicJoin = t.join('devices/d1/temp')
    const deviceGot: string[] = []
    t.link.join('devices/d1/#', { onMessage: (m) => deviceGot.push(m.topic), onState: () => {} })
    await settle()
    expect(t.made).toHaveLength(1)
    const a = t.socket(0)
    a.open()
    await settle()
    for (const f of a.frames('join')) a.answer(f.ref)
    await settle()
    a.receive(message(1))
    a.receive({ ...message(1), join: 'devices/d1/#' })
    topicJoin.leave()
    expect(a.frames('leave')).toEqual([expect.objectContaining({ topic: 'devices/d1/temp' })])
    a.receive(message(2))
    a.receive({ ...message(2), join: 'devices/d1/#' })
    expect(t.got).toEqual([1])
    expect(deviceGot).toEqual(['devices/d1/temp', 'devices/d1/temp'])
  })

  it('a new hub in the ring, or new settings, start a new client that resumes every join from its last offset', async () => {
    const t = setup()
    t.join('devices/d1/temp', { epoch: 2, seq: 1 })
    await settle()
    const a = t.socket(0)
    a.open()
    await settle()
    a.answer(a.frames('join')[0]?.ref)
    await settle()
    a.receive(message(2))
    a.receive(message(3))
    // The same hubs (another order, a state change): nothing to do.
    t.setRing(ringOf(member('b', 'hub-b:8080', 'suspect'), member('a', 'hub-a:8080'), member('o', 'obs:1', 'alive', 'observer')))
    t.link.ringChanged()
    expect(t.made).toHaveLength(1)
    // Hub c joins the ring: a client with it in the list, joined from seq 3.
    t.setRing(ringOf(member('a', 'hub-a:8080'), member('b', 'hub-b:8080'), member('c', 'hub-c:8080')))
    t.link.ringChanged()
    await settle()
    expect(a.readyState).toBe(3)
    expect(t.made[1]?.urls).toEqual(['ws://hub-a:8080/channels', 'ws://hub-b:8080/channels', 'ws://hub-c:8080/channels'])
    const a2 = t.socket(1)
    a2.open()
    await settle()
    expect(a2.frames('join')[0]).toMatchObject({ since: { epoch: 2, seq: 3 } })
    // New settings: another hub first, with the token.
    t.setSettings({ hubUrl: 'https://hub-c:8443', token: 'secret' })
    t.link.restart()
    await settle()
    expect(t.made[2]).toEqual({ urls: ['wss://hub-c:8443/channels', 'wss://hub-a:8080/channels', 'wss://hub-b:8080/channels', 'wss://hub-c:8080/channels'], auth: { token: 'secret' } })
    expect(t.states.at(-1)).toEqual({ kind: 'connecting' })
  })

  it.each<[LiveState, string]>([
    [{ kind: 'connecting' }, 'connecting to a channel…'],
    [{ kind: 'channel', hub: 'b' }, 'live via channel (b)'],
    [{ kind: 'channel', hub: 'b', gap: true }, 'live via channel (b) · some messages were no longer in the log'],
    [{ kind: 'reconnecting' }, 'channel reconnecting to another hub…'],
    [{ kind: 'unavailable', reason: 'x' }, 'polling every 2 s (no channel)'],
  ])('status %j reads "%s"', (state, text) => {
    expect(liveStatusText(state, 'polling every 2 s')).toBe(text)
  })
})
