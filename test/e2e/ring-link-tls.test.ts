import { createConnection } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FrameKind, encodeFrame } from '../../hub/src/routing/link-frames.js'
import type { Hub } from '../../hub/src/hub.js'
import { oneRing } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { testCa } from '../helpers/tls.js'
import { waitFor } from '../helpers/wait.js'

// Two hubs configured with TLS on the inter-hub link (interHubTls*: certificates from one cluster
// CA) route a publish through each other, and refuse a plain-TCP connection.
const dirs = [tempDir(), tempDir(), tempDir()]
const hubs: Hub[] = []

beforeAll(async () => {
  const ca = testCa((dirs[2] as { path: string }).path, 'cluster')
  const tls = (id: string) => {
    const { certPath, keyPath } = ca.issue(id)
    return { interHubTlsCert: certPath, interHubTlsKey: keyPath, interHubTlsCa: ca.caPath }
  }
  hubs.push(await startHub((dirs[0] as { path: string }).path, { id: 'ta', allowAnonymous: true, profile: 'edge', ...tls('ta') }))
  hubs.push(await startHub((dirs[1] as { path: string }).path, { id: 'tb', allowAnonymous: true, profile: 'edge', join: [`127.0.0.1:${hubs[0]?.ports.gossip}`], ...tls('tb') }))
  await waitFor(() => oneRing(hubs.map((h) => h.cluster.view()), ['ta', 'tb']), 'one ring of two', 10_000, 20)
})

afterAll(async () => {
  await Promise.all(hubs.map((h) => h.stop()))
  for (const d of dirs) d.remove()
})

const metric = async (hub: Hub, line: RegExp): Promise<number> => Number(line.exec(await hub.metrics.render())?.[1] ?? 0)

describe('TLS on the inter-hub link, from the hub config', () => {
  it('routes a publish through the owner over TLS', async () => {
    const [ta, tb] = hubs as [Hub, Hub]
    const key = Array.from({ length: 20 }, (_, i) => `devices/t${i}`).find((k) => ta.cluster.ownerOf(`${k}/x`).owner === 'tb') as string
    const sub = await connect(`mqtt://127.0.0.1:${ta.ports.mqtt}`)
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    const pub = await connect(`mqtt://127.0.0.1:${ta.ports.mqtt}`)
    await pub.publishAsync(`${key}/x`, 'over tls', { qos: 1 })
    await waitFor(() => got.length === 1, 'delivery through tb', 5_000)
    expect(got[0]?.payload).toBe('over tls')
    await close(sub, pub)
    expect(await metric(tb, /^ringhub_interhub_connections_total\{event="linked"\} (\d+)/m)).toBe(1)
    expect(await metric(tb, /^ringhub_interhub_rejected_total\{reason="tls"\} (\d+)/m)).toBe(0)
  })

  it('refuses and counts a connection speaking plain TCP', async () => {
    const [ta, tb] = hubs as [Hub, Hub]
    const address = ta.cluster.view().members.find((m) => m.id === 'tb')?.addresses.interHub as string
    const socket = createConnection(Number(address.split(':').at(-1)), '127.0.0.1')
    let closed = false
    socket.on('error', () => {})
    socket.on('close', () => { closed = true })
    socket.write(encodeFrame(FrameKind.hello, 0, { id: 'ta', boot: 'plain' }))
    await waitFor(() => closed, 'tb closed the plain connection').finally(() => socket.destroy())
    await waitFor(async () => await metric(tb, /^ringhub_interhub_rejected_total\{reason="tls"\} (\d+)/m) === 1, 'the refusal counted')
    expect(await metric(tb, /^ringhub_interhub_connections_total\{event="linked"\} (\d+)/m)).toBe(1)
  })
})
