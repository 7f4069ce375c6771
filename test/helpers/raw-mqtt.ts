import { connect as netConnect } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import WebSocket from 'ws'

// A raw MQTT connection over TCP or WebSocket that writes whatever bytes it is given (mqtt.js
// refuses to send malformed packets) and parses what the hub answers as MQTT 3.1.1.

export type RawTransport = 'tcp' | 'ws'

export interface RawMqtt {
  readonly transport: RawTransport
  /** Packets the hub sent, parsed. */
  readonly packets: Packet[]
  /** Bytes the hub sent that are not MQTT 3.1.1 (the hub must never send such). */
  readonly parseErrors: string[]
  write(bytes: Buffer): void
  /** Half-closes (TCP FIN) or closes the WebSocket normally (1000): the hub sees the stream end. */
  end(): void
  destroy(): void
  isClosed(): boolean
  /** Resolves when the connection has closed, whoever closed it. */
  readonly closed: Promise<void>
}

export interface RawTarget { mqttPort: number, adminPort: number }

/** Opens a raw connection; resolves once it is connected (TCP) or open (WebSocket, subprotocol mqtt). */
export async function openRaw(transport: RawTransport, target: RawTarget, track: Set<RawMqtt>): Promise<RawMqtt> {
  const packets: Packet[] = []
  const parseErrors: string[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p) => packets.push(p))
  parser.on('error', (err: Error) => parseErrors.push(err.message))
  let isClosed = false
  let conn: RawMqtt
  if (transport === 'tcp') {
    const socket = netConnect({ host: '127.0.0.1', port: target.mqttPort, noDelay: true })
    socket.on('data', (d: Buffer) => parser.parse(d))
    socket.on('error', () => { /* a reset after the hub hangs up is expected */ })
    const closed = new Promise<void>((resolve) => socket.once('close', () => { isClosed = true; resolve() }))
    await Promise.race([new Promise((resolve) => socket.once('connect', resolve)), closed])
    conn = {
      transport, packets, parseErrors, closed,
      write: (b) => { if (!socket.destroyed) socket.write(b) },
      end: () => socket.end(),
      destroy: () => socket.destroy(),
      isClosed: () => isClosed,
    }
  } else {
    const ws = new WebSocket(`ws://127.0.0.1:${target.adminPort}/mqtt`, 'mqtt')
    ws.binaryType = 'nodebuffer'
    ws.on('message', (d: Buffer) => parser.parse(d))
    ws.on('error', () => { /* reported by close */ })
    const closed = new Promise<void>((resolve) => ws.once('close', () => { isClosed = true; resolve() }))
    await Promise.race([new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('unexpected-response', () => reject(new Error('WebSocket upgrade refused'))) }), closed])
    conn = {
      transport, packets, parseErrors, closed,
      write: (b) => { if (ws.readyState === WebSocket.OPEN) ws.send(b, { binary: true }) },
      end: () => ws.close(1000),
      destroy: () => ws.terminate(),
      isClosed: () => isClosed,
    }
  }
  track.add(conn)
  void conn.closed.then(() => track.delete(conn))
  return conn
}

