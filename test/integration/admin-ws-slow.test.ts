import { afterEach, describe, expect, it } from 'vitest'
import { connect as netConnect, type Socket } from 'node:net'
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
})
