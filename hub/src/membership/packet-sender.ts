import type { Transport } from '../transport/transport.js'
import type { BroadcastQueue } from './broadcast-queue.js'
import { COMPOUND_HEADER_BYTES, COMPOUND_PART_OVERHEAD_BYTES, encodeCompound } from './codec.js'
import type { PacketSecurity } from './security.js'

/**
 * Sends gossip datagrams: each one sealed (label, encryption) and filled up to the packet budget
 * with queued broadcasts piggybacked as compound parts (SWIM §4.4 infection-style
 * dissemination).
 */
export class PacketSender {
  constructor(private readonly deps: {
    transport: Transport
    security: PacketSecurity
    broadcasts: BroadcastQueue
    udpPacketBytes: number
  }) {}

  /** Bytes a sealed datagram may carry before sealing. */
  get budget(): number {
    return Math.min(this.deps.udpPacketBytes, this.deps.transport.maxPacketBytes) - this.deps.security.overheadBytes
  }

  /** Sends `packet` (plus `priority` parts) with as many queued broadcasts as fit. */
  send(to: string, packet: Uint8Array, priority: Uint8Array[] = []): void {
    const own = [packet, ...priority]
    const used = COMPOUND_HEADER_BYTES + own.reduce((n, p) => n + COMPOUND_PART_OVERHEAD_BYTES + p.byteLength, 0)
    const piggyback = this.deps.broadcasts.getBroadcasts(COMPOUND_PART_OVERHEAD_BYTES, this.budget - used)
    this.#sendParts(to, [...own, ...piggyback])
  }

  /** Sends only queued broadcasts; false when there were none. */
  sendBroadcasts(to: string): boolean {
    const parts = this.deps.broadcasts.getBroadcasts(COMPOUND_PART_OVERHEAD_BYTES, this.budget - COMPOUND_HEADER_BYTES)
    if (parts.length === 0) return false
    this.#sendParts(to, parts)
    return true
  }

  #sendParts(to: string, parts: Uint8Array[]): void {
    const { transport, security } = this.deps
    if (parts.length === 1) {
      transport.sendPacket(to, security.seal(parts[0] as Uint8Array))
      return
    }
    const { packet } = encodeCompound(parts, this.budget)
    if (packet) transport.sendPacket(to, security.seal(packet))
  }
}
