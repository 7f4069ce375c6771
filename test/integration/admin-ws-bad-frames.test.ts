import { afterEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { AdminMetrics } from '../../hub/src/admin/admin-metrics.js'
import { AdminWs, MAX_ERRORS_PER_SOCKET, type ChannelProvider, type SubscribeFrame, type Subscriber } from '../../hub/src/admin/admin-ws.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { statsFeed } from '../../hub/src/admin/stats-feed.js'
import { FEED_PERIOD_MS } from '../../hub/src/admin/ws-channels.js'
import type { AdminChannel, HubStatsPoint } from '../../hub/src/contract/admin-api.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { waitFor } from '../helpers/wait.js'

// "Malformed WebSocket messages get an error reply and change nothing" (issue 6), shown on the
// socket itself: channel providers that record what is open, so the test sees exactly which
// subscriptions a bad frame touched (none), and that the open ones keep delivering.

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

/** Channels whose subscriptions the test can list and push frames through. */
class RecordingChannels {
  /** Open subscriptions, each its own entry (a re-subscription with the same filter is a new one). */
  readonly #open = new Map<number, { id: string, sub: Subscriber }>()
  #n = 0
  /** Subscriptions a provider refuses (by filter), as a hub refuses what it cannot serve. */
  refuseFilter: string | undefined

  provider(channel: AdminChannel): ChannelProvider {
    return {
      open: (sub: Subscriber, frame: SubscribeFrame) => {
        const filter = frame.channel === 'tap' ? frame.filter : ''
        if (filter !== '' && filter === this.refuseFilter) return `cannot tap ${filter}`
        const n = ++this.#n
        this.#open.set(n, { id: `${channel}:${filter}`, sub })
        return { stop: () => { this.#open.delete(n) } }
      },
    }
  }

  /** `channel:filter` of every open subscription, sorted. */
  ids(): string[] { return [...this.#open.values()].map((o) => o.id).sort() }

  /** Pushes one tap frame to every open tap subscription (as the broker bus would). */
  pushTap(topic: string): void {
    for (const { id, sub } of this.#open.values()) if (id.startsWith('tap:')) sub.send({ op: 'tap', messages: [{ topic, payload: 'x', encoding: 'utf8', qos: 0, retain: false, tsMs: 1 }], skipped: 0 }, true)
  }
}

async function start(overrides: Partial<Record<AdminChannel, ChannelProvider>> = {}, clock = new ManualClock()): Promise<{ channels: RecordingChannels, metrics: AdminMetrics, client: AdminWsClient }> {
  const channels = new RecordingChannels()
  const metrics = new AdminMetrics(new Registry())
  const names: AdminChannel[] = ['ring', 'timeline', 'stats', 'devices', 'tap']
  const providers = { ...Object.fromEntries(names.map((n) => [n, channels.provider(n)])) as Record<AdminChannel, ChannelProvider>, ...overrides }
  const ws = new AdminWs({ channels: providers, metrics, log: silentLogger(), clock })
  const server = createServer()
  const handle = ws.handler()
  server.on('upgrade', (req, socket, head) => handle(req, socket, head))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  cleanups.push(() => ws.close())
  const client = await AdminWsClient.open(`127.0.0.1:${(server.address() as AddressInfo).port}`)
  cleanups.push(() => client.close())
  return { channels, metrics, client }
}

describe('bad frames on the admin WebSocket', () => {
  it('each get an error reply naming the problem, are counted, and leave every subscription as it was', async () => {
    const { channels, metrics, client } = await start()
    expect(await client.call({ ref: 's1', op: 'subscribe', channel: 'ring' })).toEqual({ ref: 's1', op: 'ok' })
    expect(await client.call({ ref: 's2', op: 'subscribe', channel: 'tap', filter: 'devices/d1/#', maxPerS: 10 })).toEqual({ ref: 's2', op: 'ok' })
    const before = channels.ids()
    expect(before).toEqual(['ring:', 'tap:devices/d1/#'])
    channels.refuseFilter = 'refused/#'
    const bad: Array<[unknown, string | null, string, string]> = [
      // [frame, ref echoed, reason contains, metric label]
      ['{oops', null, 'not JSON', 'malformed-json'],
      ['[1,2]', null, 'object', 'not-object'],
      ['"text"', null, 'object', 'not-object'],
      [{ op: 'ping' }, null, 'ref', 'no-ref'],
      [{ ref: 'b1', op: 'dance' }, 'b1', 'unknown op', 'unknown-op'],
      [{ ref: 'b2', op: 'unsubscribe', channel: 'gossip' }, 'b2', 'unknown channel', 'unknown-channel'],
      // Bad re-subscriptions of an open channel: the open one must stay.
      [{ ref: 'b3', op: 'subscribe', channel: 'tap', filter: 'a/#/b' }, 'b3', '#', 'bad-filter'],
      [{ ref: 'b4', op: 'subscribe', channel: 'tap', filter: 'a/b+' }, 'b4', '+', 'bad-filter'],
      [{ ref: 'b5', op: 'subscribe', channel: 'tap', filter: 'a/b', maxPerS: 501 }, 'b5', 'maxPerS', 'bad-rate'],
      [{ ref: 'b6', op: 'subscribe', channel: 'tap', filter: '' }, 'b6', 'filter', 'bad-filter'],
      [{ ref: 'b7', op: 'subscribe', channel: 'tap', filter: 'refused/#' }, 'b7', 'cannot tap', 'refused'],
      [JSON.stringify({ ref: 'b8', op: 'subscribe', channel: 'ring', pad: 'x'.repeat(70 * 1024) }), null, 'limited', 'oversized'],
    ]
    for (const [frame, ref, says, label] of bad) {
      const from = client.frames.length
      client.send(frame)
      const reply = await client.next((f) => f.op === 'error', `the error for ${String(JSON.stringify(frame)).slice(0, 60)}`, 5_000, from)
      expect(reply).toMatchObject({ op: 'error', ref })
      expect(reply.op === 'error' && reply.reason).toContain(says)
      expect(channels.ids(), `subscriptions after ${label}`).toEqual(before)
      expect((await metrics.wsBadFrames.get()).values.find((v) => v.labels.reason === label)?.value, label).toBeGreaterThanOrEqual(1)
    }
    expect((await metrics.wsBadFrames.get()).values.reduce((s, v) => s + v.value, 0)).toBe(bad.length)
    // A binary frame too.
    const from = client.frames.length
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    expect(await client.next((f) => f.op === 'error', 'the error for a binary frame', 5_000, from)).toMatchObject({ op: 'error', ref: null, reason: expect.stringContaining('JSON text') as string })
    expect(channels.ids()).toEqual(before)
    // The open tap still delivers, and the socket still answers.
    channels.pushTap('devices/d1/t')
    await client.next((f) => f.op === 'tap' && f.messages[0]?.topic === 'devices/d1/t', 'a tap frame after the bad frames')
    expect(await client.call({ ref: 'p', op: 'ping' })).toEqual({ ref: 'p', op: 'ok' })
    expect(client.closed).toBeUndefined()
  })

  it('a good re-subscription replaces the open one; an unsubscribe of a channel not open is fine', async () => {
    const { channels, client } = await start()
    await client.call({ ref: '1', op: 'subscribe', channel: 'tap', filter: 'a/#' })
    expect(await client.call({ ref: '2', op: 'subscribe', channel: 'tap', filter: 'b/#' })).toEqual({ ref: '2', op: 'ok' })
    expect(channels.ids()).toEqual(['tap:b/#'])
    // The same subscription again: still exactly one.
    expect(await client.call({ ref: '2b', op: 'subscribe', channel: 'tap', filter: 'b/#' })).toEqual({ ref: '2b', op: 'ok' })
    expect(channels.ids()).toEqual(['tap:b/#'])
    expect(await client.call({ ref: '3', op: 'unsubscribe', channel: 'stats' })).toEqual({ ref: '3', op: 'ok' })
    expect(await client.call({ ref: '4', op: 'unsubscribe', channel: 'tap' })).toEqual({ ref: '4', op: 'ok' })
    expect(channels.ids()).toEqual([])
  })

  it('a real feed subscribed twice on one socket keeps feeding it (the replaced subscription does not take the new one with it)', async () => {
    const clock = new ManualClock()
    const point: HubStatsPoint = { hub: 'h1', tsMs: clock.now(), intervalMs: 1000, connections: 0, msgsInPerS: 0, msgsOutPerS: 0, interHubBytesInPerS: 0, interHubBytesOutPerS: 0, drops: 0, storeLagMs: 0 }
    const { client } = await start({ stats: statsFeed({ clock, log: silentLogger(), pointsOfRing: () => Promise.resolve([point]) }) }, clock)
    await client.call({ ref: '1', op: 'subscribe', channel: 'stats' })
    await client.call({ ref: '2', op: 'subscribe', channel: 'stats' })
    clock.advance(FEED_PERIOD_MS)
    await client.next((f) => f.op === 'stats', 'a stats frame after subscribing twice')
  })

  it('closes a socket that keeps sending bad frames (1008), and its subscriptions with it', async () => {
    const { channels, metrics, client } = await start()
    await client.call({ ref: '1', op: 'subscribe', channel: 'tap', filter: 'a/#' })
    for (let i = 0; i <= MAX_ERRORS_PER_SOCKET; i++) client.send('garbage')
    await waitFor(() => client.closed, 'the abusive socket closed')
    expect(client.closed?.code).toBe(1008)
    await waitFor(() => channels.ids().length === 0, 'its tap closed')
    expect((await metrics.wsClosed.get()).values.find((v) => v.labels.reason === 'abuse')?.value).toBe(1)
  })
})
