import { afterEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:http'
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net'
import { Registry } from 'prom-client'
import { AdminMetrics } from '../../hub/src/admin/admin-metrics.js'
import { AdminWs, HEARTBEAT_MS } from '../../hub/src/admin/admin-ws.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { gauge } from '../helpers/admin.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

/** A WebSocket client by hand that sends one frame and then never reads: the slowest consumer. */
async function stalledSocket(port: number, frame: string): Promise<Socket> {
  const socket = netConnect(port, '127.0.0.1')
  cleanups.push(() => socket.destroy())
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write(`GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  await new Promise<void>((resolve) => {
    let head = ''
    const onData = (d: Buffer): void => {
      head += d.toString('latin1')
      if (head.includes('\r\n\r\n')) { socket.off('data', onData); resolve() }
    }
    socket.on('data', onData)
  })
  const payload = Buffer.from(frame)
  // A masked text frame (RFC 6455 §5.2); an all-zero mask leaves the payload as it is.
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff, 0, 0, 0, 0])
  socket.write(Buffer.concat([header, payload]))
  socket.pause()
  return socket
}

describe('a slow admin WebSocket', () => {
  it('gets tap frames dropped and counted instead of buffering without bound; the hub serves on', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const hub = await startHub(dir.path, { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    const admin = `127.0.0.1:${hub.ports.admin}`
    await stalledSocket(hub.ports.admin, JSON.stringify({ ref: 'slow', op: 'subscribe', channel: 'tap', filter: 'devices/#', maxPerS: 500 }))
    const pub = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    cleanups.push(() => close(pub))
    const payload = 'x'.repeat(16 * 1024)
    // The kernel's socket buffers take some megabytes first; then the hub's own buffer grows to
    // its bound and frames are dropped.
    await waitFor(async () => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publishAsync(`devices/flood${i % 10}/t`, payload, { qos: 0 })))
      return await gauge(admin, 'ringhub_admin_tap_dropped_total') > 0
    }, 'a dropped tap frame', 30_000, 0)
    // The hub still answers, its other sockets too, and the drops show in the stats.
    const ws = await AdminWsClient.open(admin)
    cleanups.push(() => ws.close())
    expect(await ws.call({ ref: 'p', op: 'ping' })).toEqual({ ref: 'p', op: 'ok' })
    await waitFor(async () => {
      const res = await fetch(`http://${admin}/api/v1/stats`)
      const { points } = await res.json() as { points: Array<{ drops: number }> }
      return points.some((p) => p.drops > 0)
    }, 'drops in the stats', 5_000, 100)
  }, 60_000)

  it('is closed when it does not answer the heartbeat ping; one that answers stays', async () => {
    const clock = new ManualClock()
    const metrics = new AdminMetrics(new Registry())
    const never = (): string => 'no channels in this test'
    const ws = new AdminWs({ channels: { ring: { open: never }, stats: { open: never }, devices: { open: never }, timeline: { open: never }, tap: { open: never } }, metrics, log: silentLogger(), clock })
    const server = createServer()
    const handle = ws.handler()
    server.on('upgrade', (req, socket, head) => handle(req, socket, head))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(resolve)))
    cleanups.push(() => ws.close())
    const port = (server.address() as AddressInfo).port
    const lively = await AdminWsClient.open(`127.0.0.1:${port}`)
    cleanups.push(() => lively.close())
    await stalledSocket(port, JSON.stringify({ ref: 'x', op: 'ping' }))
    await waitFor(() => ws.clients === 2, 'both sockets accepted')
    const pinged = new Promise<void>((resolve) => { lively.ws.once('ping', () => resolve()) })
    clock.advance(HEARTBEAT_MS) // pings both
    await pinged
    // ws answered the ping by itself; a frame sent after it comes back after the pong was read.
    expect(await lively.call({ ref: 'after-pong', op: 'ping' })).toEqual({ ref: 'after-pong', op: 'ok' })
    clock.advance(HEARTBEAT_MS) // the stalled one never answered
    await waitFor(() => ws.clients === 1, 'the stalled socket gone')
    expect(lively.closed).toBeUndefined()
    expect((await metrics.wsClosed.get()).values.find((v) => v.labels.reason === 'no-pong')?.value).toBe(1)
  })
})
