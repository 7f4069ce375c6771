import type { PacketHandler, RequestHandler, Transport } from '../../transport/transport.js'

/**
 * A Transport that counts the bytes a member sends over the reliable channel (push-pull, TCP
 * pings): its requests and its answers to others'. `MemoryNetwork.stats` counts datagrams only.
 */
export class MeteredTransport implements Transport {
  /** Requests sent, and bytes of requests sent plus responses given. */
  readonly streams = { requests: 0, bytesSent: 0 }

  constructor(private readonly inner: Transport) {}

  get address(): string { return this.inner.address }
  get maxPacketBytes(): number { return this.inner.maxPacketBytes }

  sendPacket(to: string, data: Uint8Array): void { this.inner.sendPacket(to, data) }

  request(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.streams.requests++
    this.streams.bytesSent += data.byteLength
    return this.inner.request(to, data, timeoutMs)
  }

  onPacket(handler: PacketHandler): void { this.inner.onPacket(handler) }

  onRequest(handler: RequestHandler): void {
    this.inner.onRequest(async (from, data) => {
      const response = await handler(from, data)
      this.streams.bytesSent += response.byteLength
      return response
    })
  }

  close(): Promise<void> { return this.inner.close() }
}
