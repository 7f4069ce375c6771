import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, connect as tcpConnect, type Server, type Socket, type AddressInfo } from 'node:net'
import type { Clock } from '../base/clock.js'
import { TransportError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import { formatAddress, parseAddress } from './address.js'
import type { PacketHandler, RequestHandler, Transport } from './transport.js'

export interface UdpTcpOptions {
  /** Bind address. */
  host: string
  /** UDP and TCP port (the same number, as memberlist does); 0 picks a free one. */
  port: number
  /**
   * The address others should use when it differs from the bound one (NAT, namespaces): a host
   * (the bound port is added) or host:port.
   */
  advertise?: string
  clock: Clock
  log: Logger
  /** Largest datagram sent or accepted, bytes. Default 1400 (fits a 1500-byte MTU). */
  maxPacketBytes?: number
  /** Largest request or response frame, bytes. Default 8 MiB (a push-pull of a large ring). */
  maxFrameBytes?: number
  /** A request connection that sends nothing for this long is closed, ms. Default 10000. */
  idleTimeoutMs?: number
}

export interface TransportStats {
  packetsIn: number
  packetsOut: number
  packetsTooLarge: number
  requestsIn: number
  requestsOut: number
  /** Request connections closed for a bad frame (oversized, truncated) or idleness. */
  badFrames: number
  /** The same, by reason: `too-large`, `truncated` (the peer ended mid-frame), `idle`, `handler-timeout`. */
  badFrameReasons: Record<string, number>
}

const FRAME_HEADER_BYTES = 4

/**
 * The production transport: UDP datagrams for probes and gossip, one TCP connection per request
 * (length-prefixed frame each way) for push-pull and fallback probes, on the same port number.
 */
export class UdpTcpTransport implements Transport {
  readonly stats: TransportStats = { packetsIn: 0, packetsOut: 0, packetsTooLarge: 0, requestsIn: 0, requestsOut: 0, badFrames: 0, badFrameReasons: {} }
  readonly maxPacketBytes: number
  readonly #maxFrameBytes: number
  readonly #idleTimeoutMs: number
  #onPacket: PacketHandler = () => {}
  #onRequest: RequestHandler = () => Promise.reject(new Error('no request handler'))
  readonly #open = new Set<Socket>()

  private constructor(
    readonly address: string,
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    private readonly opts: UdpTcpOptions,
  ) {
    this.maxPacketBytes = opts.maxPacketBytes ?? 1400
    this.#maxFrameBytes = opts.maxFrameBytes ?? 8 * 1024 * 1024
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 10_000
    udp.on('message', (msg, rinfo) => {
      if (msg.length > this.maxPacketBytes) { this.stats.packetsTooLarge++; return }
      this.stats.packetsIn++
      this.#onPacket(formatAddress(rinfo.address, rinfo.port), msg)
    })
    udp.on('error', (err) => opts.log.warn({ err }, 'gossip UDP socket error'))
    tcp.on('connection', (socket) => this.#serve(socket))
  }

  /** Binds TCP (port 0 picks one) and UDP on the same port number. */
  static async start(opts: UdpTcpOptions): Promise<UdpTcpTransport> {
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer()
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject)
        tcp.listen(opts.port, opts.host, () => { tcp.off('error', reject); resolve() })
      })
      const port = (tcp.address() as AddressInfo).port
      const udp = createSocket(opts.host.includes(':') ? 'udp6' : 'udp4')
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject)
          udp.bind(port, opts.host, () => { udp.off('error', reject); resolve() })
        })
      } catch (err) {
        await new Promise<void>((resolve) => tcp.close(() => resolve()))
        udp.close()
        // With port 0 another program may hold the UDP side of the port TCP got: try another.
        if (opts.port === 0 && attempt < 10) continue
        throw new TransportError('refused', `cannot bind UDP ${opts.host}:${port}`, { cause: err })
      }
      return new UdpTcpTransport(advertisedAddress(opts.host, port, opts.advertise), udp, tcp, opts)
    }
  }

  /** The bound port (UDP and TCP). */
  get port(): number { return (this.tcp.address() as AddressInfo).port }

  onPacket(handler: PacketHandler): void { this.#onPacket = handler }
  onRequest(handler: RequestHandler): void { this.#onRequest = handler }

  sendPacket(to: string, data: Uint8Array): void {
    if (data.length > this.maxPacketBytes) { this.stats.packetsTooLarge++; return }
    let target: { host: string, port: number }
    try { target = parseAddress(to) } catch { return }
    this.stats.packetsOut++
    // A datagram that cannot be sent is a lost datagram: SWIM tolerates that by design.
    this.udp.send(data, target.port, target.host, () => {})
  }

  request(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (data.length > this.#maxFrameBytes) return Promise.reject(new TransportError('too-large', `request of ${data.length} bytes`))
    let target: { host: string, port: number }
    try { target = parseAddress(to) } catch (err) { return Promise.reject(new TransportError('unreachable', `bad address ${to}`, { cause: err })) }
    this.stats.requestsOut++
    return new Promise<Uint8Array>((resolve, reject) => {
      const socket = tcpConnect({ host: target.host, port: target.port, noDelay: true })
      this.#open.add(socket)
      const reader = new FrameReader(this.#maxFrameBytes)
      let done = false
      const finish = (err: TransportError | null, value?: Uint8Array): void => {
        if (done) return
        done = true
        this.opts.clock.clearTimeout(timer)
        this.#open.delete(socket)
        socket.destroy()
        if (err) reject(err)
        else resolve(value as Uint8Array)
      }
      const timer = this.opts.clock.setTimeout(() => finish(new TransportError('timeout', `request to ${to} timed out after ${timeoutMs} ms`)), timeoutMs)
      socket.on('connect', () => socket.write(frame(data)))
      socket.on('data', (chunk: Buffer) => {
        const result = reader.push(chunk)
        if (result === 'too-large') finish(new TransportError('too-large', `response from ${to} exceeds ${this.#maxFrameBytes} bytes`))
        else if (result) finish(null, result)
      })
      socket.on('error', (err: Error & { code?: string }) => finish(new TransportError(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable', `request to ${to}: ${err.message}`, { cause: err })))
      socket.on('close', () => finish(new TransportError('closed', `${to} closed the connection without a response`)))
    })
  }

  async close(): Promise<void> {
    for (const s of this.#open) s.destroy()
    await Promise.all([
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
    ])
  }

  #serve(socket: Socket): void {
    this.#open.add(socket)
    const from = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0)
    const reader = new FrameReader(this.#maxFrameBytes)
    let idle = this.opts.clock.setTimeout(() => bad('idle'), this.#idleTimeoutMs)
    let requested = false
    const bad = (why: 'too-large' | 'truncated' | 'idle' | 'handler-timeout'): void => {
      this.stats.badFrames++
      this.stats.badFrameReasons[why] = (this.stats.badFrameReasons[why] ?? 0) + 1
      this.opts.log.debug({ from, why }, 'gossip TCP connection closed')
      socket.destroy()
    }
    socket.on('close', () => { this.opts.clock.clearTimeout(idle); this.#open.delete(socket) })
    socket.on('error', () => {})
    // The peer hung up inside its request frame: cut short, never handled.
    socket.on('end', () => { if (!requested && reader.buffered > 0) bad('truncated') })
    socket.on('data', (chunk: Buffer) => {
      const request = reader.push(chunk)
      if (request === 'too-large') return bad('too-large')
      if (!request) return
      requested = true
      socket.removeAllListeners('data')
      this.opts.clock.clearTimeout(idle)
      idle = this.opts.clock.setTimeout(() => bad('handler-timeout'), this.#idleTimeoutMs)
      this.stats.requestsIn++
      this.#onRequest(from, request).then(
        (response) => { socket.end(frame(response)) },
        (err: unknown) => {
          this.opts.log.debug({ from, err }, 'gossip request refused')
          socket.destroy()
        },
      )
    })
  }
}

/** host:port to gossip: `advertise` as given when it has a port, else its host with ours. */
function advertisedAddress(bindHost: string, port: number, advertise: string | undefined): string {
  if (advertise === undefined) return formatAddress(bindHost, port)
  if (/^\[.+\]:\d+$/.test(advertise) || /^[^:]+:\d+$/.test(advertise)) return advertise
  return formatAddress(advertise.replace(/^\[(.*)\]$/, '$1'), port)
}

function frame(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + data.length)
  out.writeUInt32BE(data.length, 0)
  out.set(data, FRAME_HEADER_BYTES)
  return out
}

/** Collects one length-prefixed frame, refusing a length above the limit before buffering it. */
class FrameReader {
  #chunks: Buffer[] = []
  #have = 0
  #length: number | undefined
  constructor(private readonly maxBytes: number) {}

  /** Bytes received so far. */
  get buffered(): number { return this.#have }

  push(chunk: Buffer): Uint8Array | 'too-large' | undefined {
    this.#chunks.push(chunk)
    this.#have += chunk.length
    if (this.#length === undefined) {
      if (this.#have < FRAME_HEADER_BYTES) return undefined
      const head = Buffer.concat(this.#chunks)
      this.#chunks = [head]
      this.#length = head.readUInt32BE(0)
      if (this.#length > this.maxBytes) return 'too-large'
    }
    const total = FRAME_HEADER_BYTES + this.#length
    if (this.#have < total) return undefined
    // One copy, once the whole frame is here.
    return Buffer.concat(this.#chunks, this.#have).subarray(FRAME_HEADER_BYTES, total)
  }
}
