import type { RouterMessage, RouterReply, RouterRequest } from './messages.js'

/**
 * Hub-to-hub messaging by hub id (DESIGN §4): one-way messages in order per peer, and
 * request/response with a timeout. The production bus runs over TCP (`tcp-peer-bus.ts`); the
 * in-memory twin (`memory-peer-bus.ts`) runs on a virtual clock for fast deterministic tests.
 *
 * Errors: `request` rejects with a `TransportError` (`unreachable`: no address for the peer or
 * it cannot be connected; `timeout`; `closed`: the connection dropped first; `overloaded`: the
 * send queue to that peer is full). `send` returns false when the message was dropped (counted).
 */
export interface PeerBus {
  readonly self: string
  /** Where each peer's router listens, from membership (`addresses.router`). */
  setPeers(peers: ReadonlyMap<string, string>): void
  send(peer: string, message: RouterMessage): boolean
  request(peer: string, request: RouterRequest, timeoutMs: number): Promise<RouterReply>
  onMessage(handler: (from: string, message: RouterMessage) => void): void
  onRequest(handler: (from: string, request: RouterRequest) => Promise<RouterReply>): void
  /**
   * Told each time a link to a peer opens, on both ends. `again`: the peer is the same run of its
   * process as on this bus's last link to it (a connection that broke and came back, rather than
   * a first link or one to a restarted hub): what was written into the broken one may be lost.
   * `boot`: the run of the peer's process the link is to (one per start).
   */
  onLinkOpen(handler: (peer: string, again: boolean, boot: string) => void): void
  close(): Promise<void>
}
