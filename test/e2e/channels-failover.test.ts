import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { ChannelClient, type ChannelClientState } from '../../hub/src/client/channels.js'
import type { ChannelMessage } from '../../hub/src/contract/channels.js'
import { oneRing } from '../helpers/admin.js'
import { connect } from '../helpers/mqtt.js'
import { RawChannel } from '../helpers/channels.js'
import { RingFixture } from '../helpers/ring-fixture.js'
import { waitFor } from '../helpers/wait.js'

// Issue 8's failover: a channel client (the ringhub/channels library) on hub A joined to a key
// owned by C, while an MQTT device on B publishes 1k msg/s QoS 1 on it. kill -9 A: the library
// reconnects to the next hub of its list and resumes from the last offset it saw. What the
// application sees has no gap and no repeat: strictly increasing (epoch, seq), and every
// message the device got a PUBACK for. A presence watcher on C hears the client leave with A
// (A cannot say so: C says it when A is declared dead) and join again on the hub it moved to.
const ids = ['fa', 'fb', 'fc']
const ring = new RingFixture(['--profile', 'edge'])
const RATE_PER_S = 1_000

beforeAll(async () => {
  await ring.spawn('fa')
  for (const id of ids.slice(1)) await ring.spawn(id, 'fa')
  await waitFor(async () => oneRing(await ring.views(ids), ids), 'one ring of three', 15_000, 50)
})

afterAll(() => ring.cleanup())

describe('a channel client whose hub is killed', () => {
  it('reconnects to another hub and resumes from its last offset: no gap, no repeat', async () => {
    const key = await ring.keyOwnedBy('fc', 'fo', 'fa')
    const urls = ['fa', 'fb', 'fc'].map((id) => `ws://${ring.admin(id)}/channels`)
    const client = new ChannelClient({ urls, WebSocket: WebSocket as never, backoffMs: 50, heartbeatMs: 1_000, requestTimeoutMs: 2_000 })
    ring.onCleanup(async () => client.close())
    const states: ChannelClientState[] = []
    client.onState((s) => states.push(s))
    await client.ready()
    expect(client.url).toBe(urls[0])
    const seen: ChannelMessage[] = []
    await client.join(`${key}/#`, (m) => seen.push(m))
    const watcher = await RawChannel.open(ring.hub('fc').ports.admin)
    ring.onCleanup(async () => watcher.ws.terminate())
    const listed = await watcher.request({ op: 'presence', topic: `${key}/#`, watch: true })
    expect(listed).toMatchObject({ op: 'ok', members: [{ hub: 'fa' }] })
    const presence = (): Array<{ event: string, hub: string }> => watcher.frames.flatMap((f) => f.op === 'presence' ? [{ event: f.event, hub: f.member.hub }] : [])

    // The device: QoS 1 at RATE_PER_S on B, payload = its counter; every PUBACKed n is recorded.
    const pub = await connect(ring.url('fb'), { clientId: 'fo-pub' })
    ring.clients.push(pub)
    const acked = new Set<number>()
    let sent = 0
    let stopped = false
    const started = performance.now()
    const publishing = (async () => {
      while (!stopped) {
        const due = Math.floor((performance.now() - started) * RATE_PER_S / 1_000)
        while (sent < due && !stopped) {
          const n = sent++
          void pub.publishAsync(`${key}/n`, String(n), { qos: 1 }).then(() => acked.add(n), () => { /* not acked: not counted */ })
        }
        await new Promise((r) => setTimeout(r, 5))
      }
    })()

    await waitFor(() => seen.length >= 1_000, 'a second of messages before the kill', 10_000)
    ring.hub('fa').child.kill('SIGKILL')
    await ring.hub('fa').exited
    const killedAt = seen.length
    await waitFor(() => client.url !== undefined && client.url !== urls[0], 'the client on another hub', 10_000)
    await waitFor(() => seen.length >= killedAt + 1_000, 'a second of messages after the failover', 15_000)
    stopped = true
    await publishing
    const lastSent = sent - 1
    await waitFor(() => acked.size === sent, 'every publish acknowledged', 10_000)
    await waitFor(() => seen.length > 0 && Number((seen.at(-1) as ChannelMessage).payload) === lastSent, 'the last message', 10_000)

    // Strictly increasing (epoch, seq): no repeat, no reordering.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1] as ChannelMessage, seen[i] as ChannelMessage]
      expect((b.epoch as number) > (a.epoch as number) || ((b.epoch as number) === (a.epoch as number) && (b.seq as number) > (a.seq as number))).toBe(true)
    }
    // No gap: every acknowledged publish arrived, once, in publish order.
    const payloads = seen.map((m) => Number(m.payload))
    expect(payloads).toEqual(Array.from({ length: sent }, (_, i) => i))
    expect(states.some((s) => s.state === 'disconnected' && s.url === urls[0])).toBe(true)
    expect(states.some((s) => s.state === 'resumed' && s.resumed)).toBe(true)
    await waitFor(() => presence().some((e) => e.event === 'leave' && e.hub === 'fa'), 'the leave of the member on the killed hub', 10_000)
    expect(presence()).toContainEqual({ event: 'join', hub: (client.url as string) === urls[1] ? 'fb' : 'fc' })
    console.log(`channels failover: ${sent} published at ${RATE_PER_S}/s, ${seen.length} seen, kill after ${killedAt}, resumed on ${client.url}`)
  }, 60_000)
})
