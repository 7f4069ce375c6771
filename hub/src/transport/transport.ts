/**
 * How membership talks to other hubs, without knowing whether the bytes cross UDP/TCP sockets or
 * an in-memory network (STYLE §3). Addresses are "host:port" strings.
 *
 * - Packets: unreliable, unordered datagrams of at most `maxPacketBytes` (SWIM probes and
 *   gossip; UDP in production). A packet may be lost, delayed or duplicated.
 * - Requests: one reliable request/response exchange (push-pull state sync, fallback probe;
 *   TCP in production). Either the whole response arrives or the promise rejects.
 */
export interface Transport {
  /** The address others reach this transport at (the advertised one). */
  readonly address: string
  readonly maxPacketBytes: number
  /** Sends a datagram; never throws for network reasons (a lost packet is just lost). */
  sendPacket(to: string, data: Uint8Array): void
  /** Sends `data` and resolves with the response; rejects with TransportError on failure/timeout. */
  request(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>
  /** The handler for incoming datagrams (one; a later call replaces it). */
  onPacket(handler: PacketHandler): void
  /** The handler for incoming requests; its result (or rejection) is the response (or a closed stream). */
  onRequest(handler: RequestHandler): void
  close(): Promise<void>
}

export type PacketHandler = (from: string, data: Uint8Array) => void
export type RequestHandler = (from: string, data: Uint8Array) => Promise<Uint8Array>
