import { createServer, connect, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls'
import { parseAddress } from '../transport/address.js'

/**
 * TLS on the inter-hub link with a cluster CA (PEM contents). Both sides present their
 * certificate and verify the other's against `ca`; TLS 1.2 at least. The CA is the ring's own:
 * any certificate it signed is a ring member, so host names are not checked (hubs dial the
 * addresses they gossip, often bare IPs). The link's own handshake (ids, gossip-key proof) runs
 * inside.
 */
export interface LinkTls {
  cert: string | Buffer
  key: string | Buffer
  ca: string | Buffer
}

const MIN_VERSION = 'TLSv1.2'

/**
 * The link's listener. `onSocket` gets each connection ready for frames (after the TLS
 * handshake); `onRawSocket` every TCP connection as it comes, so it can be counted and closed;
 * `onTlsError` a TLS handshake that failed (the peer's certificate not from the cluster CA, a
 * peer speaking plain TCP, no handshake within `handshakeTimeoutMs`).
 */
export function listenLink(opts: {
  tls: LinkTls | undefined
  handshakeTimeoutMs: number
  onSocket: (socket: Socket) => void
  onRawSocket: (socket: Socket) => void
  onTlsError: (err: Error) => void
}): Server {
  const { tls } = opts
  const server = tls === undefined
    ? createServer(opts.onSocket)
    : createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: MIN_VERSION, handshakeTimeout: opts.handshakeTimeoutMs }, opts.onSocket)
  server.on('connection', opts.onRawSocket)
  if (tls !== undefined) server.on('tlsClientError', opts.onTlsError)
  return server
}

/**
 * Dials a peer's link address. `ready` runs once the socket can carry frames: TCP connected, or
 * the TLS handshake done with the peer's certificate verified against the cluster CA. `tcpUp`
 * tells a TLS failure (after the TCP connect) from an unreachable peer.
 */
export function dialLink(address: string, tls: LinkTls | undefined, ready: () => void): { socket: Socket, tcpUp: () => boolean } {
  const { host, port } = parseAddress(address)
  let up = false
  const socket = tls === undefined
    ? connect({ host, port, noDelay: true })
    : tlsConnect({ host, port, cert: tls.cert, key: tls.key, ca: tls.ca, minVersion: MIN_VERSION, rejectUnauthorized: true, checkServerIdentity: () => undefined })
  socket.once('connect', () => { up = true })
  socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
    socket.setNoDelay(true)
    ready()
  })
  return { socket, tcpUp: () => up }
}
