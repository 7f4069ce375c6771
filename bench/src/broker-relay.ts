import { createServer, type Socket } from 'node:net'
import { parser as createParser, type Packet } from 'mqtt-packet'
import { FrameSplitter, PUBACK, PUBLISH, frameType, readPublish, writePuback } from './mqtt-frames.js'
import type { RunningBroker } from './running-broker.js'
import { closeServer, listenLoopback } from './net-util.js'

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00])
const PINGRESP = Buffer.from([0xd0, 0x00])

/**
 * Calibration, not a broker: the least work that still makes the load generator's packets flow.
 * PUBLISH frames are copied byte for byte to the sockets subscribed to exactly that topic (no
 * wildcards, no sessions, no QoS state: QoS 1 is PUBACKed at once and subscribers' PUBACKs are
 * ignored). Its rates are the ceiling of the load generator plus the loopback on this machine;
 * when aedes gets close to them, the generator, not the broker, is what is being measured.
 */
export async function startRelay(): Promise<RunningBroker> {
  const byTopic = new Map<string, Set<Socket>>()
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    serveRelayConnection(socket, byTopic)
    socket.once('close', () => sockets.delete(socket))
  })
  const port = await listenLoopback(server)
  return {
    port,
    clients: () => sockets.size,
    stop: async () => {
      const closed = closeServer(server)
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}

function serveRelayConnection(socket: Socket, byTopic: Map<string, Set<Socket>>): void {
  const topics: string[] = []
  const corked = new Set<Socket>()
  // A subscriber that cannot keep up pauses this publisher until it drains (bounded memory).
  const waitingOn = new Set<Socket>()
  const waitFor = (target: Socket): void => {
    if (waitingOn.has(target)) return
    waitingOn.add(target)
    target.once('drain', () => {
      waitingOn.delete(target)
      if (waitingOn.size === 0) socket.resume()
    })
  }

  const parser = createParser({ protocolVersion: 4 })
  parser.on('packet', (packet: Packet) => {
    if (packet.cmd === 'connect') socket.write(CONNACK_OK)
    else if (packet.cmd === 'subscribe') {
      for (const { topic } of packet.subscriptions) {
        topics.push(topic)
        const set = byTopic.get(topic) ?? new Set<Socket>()
        set.add(socket)
        byTopic.set(topic, set)
      }
      const granted = packet.subscriptions.map((s) => s.qos)
      socket.write(Buffer.from([0x90, 2 + granted.length, (packet.messageId ?? 0) >> 8, (packet.messageId ?? 0) & 0xff, ...granted]))
    } else if (packet.cmd === 'pingreq') socket.write(PINGRESP)
    else if (packet.cmd === 'disconnect') socket.end()
  })
  parser.on('error', () => socket.destroy())

  const splitter = new FrameSplitter((buf, start, bodyStart, end) => {
    const type = frameType(buf, start)
    if (type === PUBACK) return
    if (type !== PUBLISH) { parser.parse(buf.subarray(start, end)); return }
    const topicLength = buf.readUInt16BE(bodyStart)
    const topic = buf.toString('utf8', bodyStart + 2, bodyStart + 2 + topicLength)
    const { qos, messageId } = readPublish(buf, start, bodyStart)
    const frame = buf.subarray(start, end)
    for (const target of byTopic.get(topic) ?? []) {
      if (!corked.has(target)) { target.cork(); corked.add(target) }
      if (!target.write(frame)) waitFor(target)
    }
    if (qos > 0) {
      const ack = Buffer.allocUnsafe(4)
      writePuback(ack, 0, messageId)
      socket.write(ack)
    }
  })

  socket.on('data', (chunk: Buffer) => {
    try {
      splitter.push(chunk)
    } catch {
      socket.destroy()
      return
    }
    // One writev per subscriber per received chunk instead of one write per message.
    for (const target of corked) target.uncork()
    corked.clear()
    if (waitingOn.size > 0) socket.pause()
  })
  socket.on('error', () => socket.destroy())
  socket.once('close', () => {
    for (const topic of topics) byTopic.get(topic)?.delete(socket)
  })
}
