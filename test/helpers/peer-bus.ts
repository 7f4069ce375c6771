import { createConnection, type Socket } from 'node:net'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { FrameKind, FrameReader, encodeFrame, type Frame } from '../../hub/src/routing/link-frames.js'
import type { DeliverMessage, PublishRequest } from '../../hub/src/routing/messages.js'
import { TcpPeerBus, type TcpPeerBusOptions } from '../../hub/src/routing/tcp-peer-bus.js'

// Inter-hub link buses on loopback ephemeral ports, and a raw link client, for tests.

export interface TestBus { bus: TcpPeerBus, address: string }

/** A started bus on 127.0.0.1:0; `cleanups` gets its close. */
export async function startBus(self: string, cleanups: Array<() => unknown>, extra: Partial<TcpPeerBusOptions> = {}): Promise<TestBus> {
  const bus = new TcpPeerBus({ self, host: '127.0.0.1', port: 0, clock: systemClock, log: silentLogger(), ...extra })
  cleanups.push(() => bus.close())
  const port = await bus.start()
  return { bus, address: `127.0.0.1:${port}` }
}

/** Points every bus at all the others. */
export function meshPeers(buses: readonly TestBus[]): void {
  for (const b of buses) b.bus.setPeers(new Map(buses.filter((o) => o !== b).map((o) => [o.bus.self, o.address])))
}

export function deliver(seq: number, key = 'devices/d1'): DeliverMessage {
  return { t: 'deliver', key, epoch: 1, seq, topic: `${key}/t`, payload: Buffer.from(String(seq)), qos: 0 }
}

export function publish(id: string): PublishRequest {
  return { t: 'publish', id, topic: 'devices/d1/t', payload: Buffer.from(id), qos: 1, retain: false }
}

/** Answers every publish request with `published` (seq = the request's number) and records messages. */
export function echo(bus: TcpPeerBus): Array<{ from: string, seq: number }> {
  const got: Array<{ from: string, seq: number }> = []
  bus.onMessage((from, m) => { if (m.t === 'deliver') got.push({ from, seq: m.seq }) })
  bus.onRequest(async (_from, r) => ({ t: 'published', epoch: 1, seq: r.t === 'publish' ? Number(r.id) : 0 }))
  return got
}

/** A raw link connection: the frames it receives, a way to send, and whether it closed. */
export function rawLink(address: string, cleanups: Array<() => unknown>): { socket: Socket, frames: Frame[], send: (kind: FrameKind, id: number, body: unknown) => void, closed: () => boolean } {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const socket = createConnection(port, host)
  cleanups.push(() => socket.destroy())
  const frames: Frame[] = []
  const reader = new FrameReader(1 << 20)
  let closed = false
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  socket.on('data', (chunk: Buffer) => frames.push(...reader.push(chunk)))
  return { socket, frames, send: (kind, id, body) => socket.write(encodeFrame(kind, id, body)), closed: () => closed }
}

export { FrameKind }
