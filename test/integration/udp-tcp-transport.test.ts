import { connect as tcpConnect } from 'node:net'
import { createSocket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { UdpTcpTransport } from '../../hub/src/transport/udp-tcp-transport.js'
import { waitFor } from '../helpers/wait.js'

const open: UdpTcpTransport[] = []
afterEach(async () => { for (const t of open.splice(0)) await t.close() })

async function start(opts: { maxFrameBytes?: number, idleTimeoutMs?: number } = {}): Promise<UdpTcpTransport> {
  const t = await UdpTcpTransport.start({ host: '127.0.0.1', port: 0, clock: systemClock, log: silentLogger(), ...opts })
  open.push(t)
  return t
}

describe('UdpTcpTransport on loopback', () => {
  it('binds UDP and TCP on one ephemeral port and exchanges datagrams', async () => {
    const a = await start()
    const b = await start()
    expect(a.port).toBeGreaterThan(0)
    expect(a.address).toBe(`127.0.0.1:${a.port}`)
    const got: string[] = []
    b.onPacket((from, data) => got.push(`${from} ${Buffer.from(data).toString()}`))
    a.sendPacket(b.address, Buffer.from('ping'))
    await waitFor(() => got.length === 1, 'datagram')
    expect(got).toEqual([`127.0.0.1:${a.port} ping`])
  })

  it('does not send or accept datagrams above maxPacketBytes', async () => {
    const a = await start()
    const b = await start()
    const got: number[] = []
    b.onPacket((_from, data) => got.push(data.length))
    a.sendPacket(b.address, Buffer.alloc(1401))
    expect(a.stats.packetsTooLarge).toBe(1)
    const raw = createSocket('udp4')
    await new Promise<void>((resolve) => raw.send(Buffer.alloc(2000), b.port, '127.0.0.1', () => resolve()))
    raw.close()
    a.sendPacket(b.address, Buffer.alloc(1400))
    await waitFor(() => got.length === 1, 'the datagram that fits')
    expect(got).toEqual([1400])
    await waitFor(() => b.stats.packetsTooLarge === 1, 'oversized datagram counted')
  })

  it('answers requests with large frames, and reports a refused connection', async () => {
    const a = await start()
    const b = await start()
    b.onRequest(async (_from, data) => Buffer.concat([Buffer.from('echo:'), Buffer.from(data)]))
    const big = Buffer.alloc(3 * 1024 * 1024, 7)
    const response = await a.request(b.address, big, 5_000)
    expect(response.length).toBe(big.length + 5)
    expect(Buffer.from(response.subarray(0, 5)).toString()).toBe('echo:')
    const port = b.port
    await b.close()
    open.splice(open.indexOf(b), 1)
    await expect(a.request(`127.0.0.1:${port}`, Buffer.from('x'), 2_000)).rejects.toMatchObject({ reason: 'refused' })
  })

  it('times out a request that gets no answer', async () => {
    const a = await start()
    const b = await start()
    b.onRequest(() => new Promise(() => {})) // never answers
    await expect(a.request(b.address, Buffer.from('x'), 200)).rejects.toMatchObject({ reason: 'timeout' })
  })

  it('closes a request connection that claims an oversized frame, before buffering it', async () => {
    const b = await start({ maxFrameBytes: 1024 })
    let handled = 0
    b.onRequest(async () => { handled++; return Buffer.alloc(0) })
    const socket = tcpConnect(b.port, '127.0.0.1')
    socket.on('error', () => {})
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const header = Buffer.alloc(4)
    header.writeUInt32BE(268_000_000)
    socket.write(header)
    await closed
    expect(b.stats.badFrames).toBe(1)
    expect(handled).toBe(0)
  })

  it('closes a request connection that stays silent', async () => {
    const b = await start({ idleTimeoutMs: 200 })
    const socket = tcpConnect(b.port, '127.0.0.1')
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    expect(b.stats.badFrames).toBe(1)
  })
})
