import { describe, expect, it } from 'vitest'
import { ChannelClient, type ChannelClientState, type ClientTimers } from '../../hub/src/client/channels.js'
import type { ChannelMessage } from '../../hub/src/contract/channels.js'
import { FakeSocket } from '../helpers/fake-channel-socket.js'

/** Timers run by hand: `run()` fires every due one (no real time passes). */
function manualTimers(): ClientTimers & { run: () => void, pending: () => number } {
  let next = 0
  const timers = new Map<number, () => void>()
  return {
    setTimeout: (fn) => { timers.set(++next, fn); return next },
    clearTimeout: (h) => { timers.delete(h as number) },
    setInterval: () => ++next, // heartbeats are not driven here
    clearInterval: () => {},
    run: () => { for (const [id, fn] of [...timers]) { timers.delete(id); fn() } },
    pending: () => timers.size,
  }
}

function message(key: string, epoch: number, seq: number, n: number, join = `${key}/#`): ChannelMessage {
  return { op: 'message', join, topic: `${key}/n`, payload: n, key, epoch, seq, retained: false }
}

describe('the channel client library', () => {
  it('fails over to the next hub, rejoins from the last offset seen, and drops what it saw already', async () => {
    FakeSocket.all = []
    const timers = manualTimers()
    const client = new ChannelClient({ urls: ['ws://a/channels', 'ws://b/channels'], WebSocket: FakeSocket, timers })
    const states: ChannelClientState[] = []
    client.onState((s) => states.push(s))
    const a = FakeSocket.all[0] as FakeSocket
    expect(a.url).toBe('ws://a/channels')
    a.open()
    const seen: number[] = []
    const joined = client.join('devices/d1/#', (m) => seen.push(m.payload as number))
    a.okAll()
    await joined
    for (let i = 1; i <= 5; i++) a.receive(message('devices/d1', 2, i, i))
    a.close(1006, 'gone')
    expect(states).toContainEqual({ state: 'disconnected', url: 'ws://a/channels', code: 1006, reason: 'gone' })
    timers.run() // the first retry goes at once, to the next hub
    const b = FakeSocket.all[1] as FakeSocket
    expect(b.url).toBe('ws://b/channels')
    b.open()
    // The rejoin asks for everything after the last offset the application saw.
    expect(b.sent).toContainEqual(expect.objectContaining({ op: 'join', topic: 'devices/d1/#', since: { epoch: 2, seq: 5 } }))
    b.okAll({ resumed: true })
    expect(states).toContainEqual({ state: 'resumed', topic: 'devices/d1/#', resumed: true })
    // An overlap (4, 5) is dropped; 6 and 7 arrive once; an older epoch never goes backwards.
    for (const seq of [4, 5, 6, 7]) b.receive(message('devices/d1', 2, seq, seq))
    b.receive(message('devices/d1', 1, 99, 99))
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7])
    client.close()
  })

  it('settles a join whose connection ended before the answer with the answer on the next connection, from the last offset', async () => {
    FakeSocket.all = []
    const timers = manualTimers()
    const client = new ChannelClient({ urls: ['ws://a/channels', 'ws://b/channels'], WebSocket: FakeSocket, timers })
    const a = FakeSocket.all[0] as FakeSocket
    a.open()
    let settled: unknown
    const joined = client.join('devices/d1/#', () => {}, { since: { epoch: 1, seq: 10 } }).then((ok) => { settled = ok }, (err: unknown) => { settled = err })
    const ref = a.sent.find((f) => f.op === 'join')?.ref
    a.close(1006, 'gone')
    await Promise.resolve()
    expect(settled).toBeUndefined()
    timers.run()
    const b = FakeSocket.all[1] as FakeSocket
    b.open()
    const joins = b.sent.filter((f) => f.op === 'join')
    expect(joins).toEqual([expect.objectContaining({ ref, topic: 'devices/d1/#', since: { epoch: 1, seq: 10 } })])
    b.receive({ ref, op: 'ok', resumed: true })
    await joined
    expect(settled).toMatchObject({ op: 'ok', resumed: true })
    client.close()
  })

  it('sends a join made when told "connected" once', () => {
    FakeSocket.all = []
    const timers = manualTimers()
    const client = new ChannelClient({ urls: ['ws://a/channels'], WebSocket: FakeSocket, timers })
    client.onState((s) => { if (s.state === 'connected') void client.join('devices/d2/#', () => {}).catch(() => {}) })
    const a = FakeSocket.all[0] as FakeSocket
    a.open()
    expect(a.sent.filter((f) => f.op === 'join' && f.topic === 'devices/d2/#')).toHaveLength(1)
    client.close()
  })

  it('sends a publish again on the next connection when the first ended before the answer', async () => {
    FakeSocket.all = []
    const timers = manualTimers()
    const client = new ChannelClient({ urls: ['ws://a/channels', 'ws://b/channels'], WebSocket: FakeSocket, timers })
    const a = FakeSocket.all[0] as FakeSocket
    a.open()
    const done = client.publish('devices/d1/cmd', { go: true })
    expect(a.sent).toContainEqual(expect.objectContaining({ op: 'publish', topic: 'devices/d1/cmd', payload: { go: true }, qos: 1 }))
    a.close(1006, '')
    timers.run()
    const b = FakeSocket.all[1] as FakeSocket
    b.open()
    expect(b.sent.filter((f) => f.op === 'publish')).toHaveLength(1)
    b.okAll()
    await expect(done).resolves.toMatchObject({ op: 'ok' })
    client.close()
  })

  it('authenticates with an auth frame first, acks QoS 1 frames cumulatively, and backs off after failed attempts', async () => {
    FakeSocket.all = []
    const timers = manualTimers()
    const client = new ChannelClient({ urls: ['ws://a/channels'], auth: { username: 'd1', password: 'pw' }, WebSocket: FakeSocket, timers })
    const a = FakeSocket.all[0] as FakeSocket
    a.open()
    expect(a.sent[0]).toMatchObject({ op: 'auth', username: 'd1', password: 'pw' })
    a.okAll()
    await client.ready()
    const joined = client.join('devices/d1/#', () => {}, { qos: 1 })
    a.okAll()
    await joined
    a.receive({ ...message('devices/d1', 1, 1, 1), id: 1 })
    a.receive({ ...message('devices/d1', 1, 2, 2), id: 2 })
    await Promise.resolve()
    expect(a.sent.filter((f) => f.op === 'ack')).toEqual([{ op: 'ack', id: 2 }])
    // Connection attempts that fail: each retry waits (a timer) rather than spinning.
    a.close(1006, '')
    timers.run()
    const b = FakeSocket.all[1] as FakeSocket
    b.close(1006, '')
    expect(timers.pending()).toBe(1)
    expect(FakeSocket.all).toHaveLength(2)
    timers.run()
    expect(FakeSocket.all).toHaveLength(3)
    client.close()
  })
})
