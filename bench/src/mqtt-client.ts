import { connect as netConnect, type Socket } from 'node:net'
import { generate, parser as createParser, type Packet, type Parser } from 'mqtt-packet'
import { FrameSplitter, PUBACK, PUBLISH, frameType } from './mqtt-frames.js'

export interface MqttClientOptions {
  host: string
  port: number
  clientId: string
  /** Seconds; 0 turns keep-alive off, so idle clients cost the broker no PINGREQ work. */
  keepaliveS: number
  /** Every PUBLISH frame, read in place (see mqtt-frames.ts). */
  onPublish?: (buf: Buffer, start: number, bodyStart: number, end: number) => void
  onPuback?: (messageId: number) => void
  /** After each received chunk: where callers flush batched PUBACKs and top up their window. */
  onChunkEnd?: () => void
}

interface Waiter {
  cmd: Packet['cmd']
  resolve: (packet: Packet) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/**
 * One MQTT 3.1.1 connection over a raw socket: CONNECT/SUBSCRIBE/DISCONNECT are generated and
 * decoded with mqtt-packet; PUBLISH/PUBACK go through the caller's in-place handlers.
 */
export class MqttClient {
  readonly #waiters: Waiter[] = []
  readonly #parser: Parser = createParser({ protocolVersion: 4 })
  #nextId = 1
  #closing = false
  /** Set when the connection ended without close() having been called. */
  lostReason: string | undefined

  private constructor(readonly socket: Socket, private readonly opts: MqttClientOptions) {
    const splitter = new FrameSplitter((buf, start, bodyStart, end) => {
      const type = frameType(buf, start)
      if (type === PUBLISH) opts.onPublish?.(buf, start, bodyStart, end)
      else if (type === PUBACK) opts.onPuback?.(buf.readUInt16BE(bodyStart))
      else this.#parser.parse(buf.subarray(start, end))
    })
    this.#parser.on('packet', (packet: Packet) => this.#settle(packet))
    this.#parser.on('error', (err: Error) => this.#fail(err))
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk)
      } catch (err) {
        this.#fail(err as Error)
        return
      }
      opts.onChunkEnd?.()
    })
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new Error('connection closed')))
  }

  /** Opens the socket, sends CONNECT (clean session) and waits for a successful CONNACK. */
  static async connect(opts: MqttClientOptions, timeoutMs: number): Promise<MqttClient> {
    const socket = netConnect({ host: opts.host, port: opts.port, noDelay: true })
    const client = new MqttClient(socket, opts)
    const connack = client.#expect('connack', timeoutMs)
    socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: opts.clientId, clean: true, keepalive: opts.keepaliveS }))
    const packet = await connack
    if (packet.cmd !== 'connack' || packet.returnCode !== 0) {
      socket.destroy()
      throw new Error(`${opts.clientId}: CONNACK return code ${packet.cmd === 'connack' ? packet.returnCode : '?'}`)
    }
    return client
  }

  /** Subscribes to one filter and waits for SUBACK; throws if the broker refused it. */
  async subscribe(filter: string, qos: 0 | 1, timeoutMs: number): Promise<void> {
    const suback = this.#expect('suback', timeoutMs)
    this.socket.write(generate({ cmd: 'subscribe', messageId: this.#nextId++, subscriptions: [{ topic: filter, qos }] }))
    const packet = await suback
    const granted = packet.cmd === 'suback' ? packet.granted[0] : undefined
    if (granted !== qos) throw new Error(`${this.opts.clientId}: SUBACK granted ${JSON.stringify(granted)} for ${filter}, wanted ${qos}`)
  }

  /** DISCONNECT, then waits (bounded) for the socket to close; destroys it if the broker lingers. */
  close(timeoutMs = 2000): Promise<void> {
    this.#closing = true
    if (this.socket.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), timeoutMs)
      this.socket.once('close', () => { clearTimeout(timer); resolve() })
      if (this.socket.writable) this.socket.end(generate({ cmd: 'disconnect' }))
      else this.socket.destroy()
    })
  }

  /**
   * Aborts the connection with a TCP RST: the broker discards what it has not read yet from this
   * socket instead of working through it (a QoS 0 flood leaves megabytes in socket buffers).
   */
  reset(): void {
    this.#closing = true
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  #expect(cmd: Packet['cmd'], timeoutMs: number): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.findIndex((w) => w.timer === timer)
        if (index >= 0) this.#waiters.splice(index, 1)
        reject(new Error(`${this.opts.clientId}: no ${cmd} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiters.push({ cmd, resolve, reject, timer })
    })
  }

  #settle(packet: Packet): void {
    const index = this.#waiters.findIndex((w) => w.cmd === packet.cmd)
    const waiter = index >= 0 ? this.#waiters.splice(index, 1)[0] : undefined
    if (!waiter) return
    clearTimeout(waiter.timer)
    waiter.resolve(packet)
  }

  #fail(err: Error): void {
    if (!this.#closing && this.lostReason === undefined) this.lostReason = err.message
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.reject(new Error(`${this.opts.clientId}: ${err.message}`, { cause: err }))
    }
    if (!this.socket.destroyed) this.socket.destroy()
  }
}
