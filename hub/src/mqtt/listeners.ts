import { createServer as createTcpServer, type Server as TcpServer, type Socket, type AddressInfo } from 'node:net'
import { createServer as createTlsServer, TLSSocket } from 'node:tls'
import type { Server as HttpServer, IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws'
import type { Aedes } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { installFrameGuard } from './frame-guard.js'
import type { ReadGate } from './read-gate.js'
import { countTlsHandshakeFailures, type ServerTls } from './server-tls.js'
import { coalesceWrites, countWrites } from './write-hooks.js'

/**
 * Connections the kernel may hold ready for accept (the kernel caps it at net.core.somaxconn).
 * Node's default, 511, is too few when a fleet reconnects at once after an outage: the kernel
 * then drops the handshakes' last ACKs, and a client can believe it is connected to a hub that
 * never accepted it (the overload scenario's storm of 2,000 sockets left 230 such).
 */
const LISTEN_BACKLOG = 4096

export type ListenerName = 'mqtt' | 'mqtts' | 'ws' | 'wss'

export interface ListenerDeps {
  broker: Aedes
  maxPacketBytes: number
  log: Logger
  metrics: HubMetrics
  /** Stops reading from connected clients while the hub is overloaded (overload-governor.ts); none: never. */
  readGate?: ReadGate
}

/**
 * Accepts MQTT connections on TCP, TLS and WebSocket and hands each one to aedes behind the
 * frame guard, counting bytes and connections per listener.
 */
export class MqttListeners {
  readonly #servers: TcpServer[] = []
  readonly #open = new Set<Duplex>()
  #wss: WebSocketServer | undefined

  constructor(private readonly deps: ListenerDeps) {}

  /** Hands one connection to aedes (after the frame guard). Also used by tests and the WS path. */
  accept(conn: Duplex, listener: ListenerName, req?: IncomingMessage): void {
    const { broker, metrics, log } = this.deps
    metrics.connectionsTotal.inc({ listener })
    metrics.connections.inc({ listener })
    this.#open.add(conn)
    conn.once('close', () => {
      this.#open.delete(conn)
      metrics.connections.dec({ listener })
    })
    const traffic = metrics.traffic
    installFrameGuard(conn, this.deps.maxPacketBytes, {
      onBytes: (n) => { traffic.bytesIn += n },
      onReject: (reason) => {
        metrics.protocolErrors.inc({ reason })
        log.warn({ listener, reason, remote: remoteOf(conn, req) }, 'bad MQTT framing; connection closed')
      },
    })
    // aedes sets `conn.client`; once its CONNACK went out, the connection is one the gate holds.
    this.deps.readGate?.install(conn, () => (conn as { client?: { connackSent?: boolean } }).client?.connackSent === true)
    countWrites(conn, (n) => { traffic.bytesOut += n })
    coalesceWrites(conn)
    broker.handle(conn, req)
  }

  /** Starts the plain TCP listener; resolves with the bound port. */
  listenTcp(host: string, port: number): Promise<number> {
    const server = createTcpServer({ noDelay: true }, (socket: Socket) => this.accept(socket, 'mqtt'))
    return this.#listen(server, host, port)
  }

  /** Starts the TLS listener (readServerTls: TLS 1.2 or later, client certificates); resolves with the bound port. */
  listenTls(host: string, port: number, tls: ServerTls): Promise<number> {
    const server = createTlsServer({ ...tls }, (socket) => {
      socket.setNoDelay(true)
      this.accept(socket, 'mqtts')
    })
    countTlsHandshakeFailures(server, this.deps, 'mqtts')
    return this.#listen(server, host, port)
  }

  /** Serves MQTT over WebSocket at `path` on an HTTP server that upgrades nothing else. */
  attachWebSocket(http: HttpServer, path: string): void {
    const handle = this.webSocketHandler()
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? '/'
      if (url !== path && !url.startsWith(path + '?')) {
        // Nothing else upgrades on this server: answer, or the socket would hang open forever.
        this.deps.metrics.protocolErrors.inc({ reason: 'websocket-path' })
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        socket.destroy()
        return
      }
      handle(req, socket, head)
    })
  }

  /**
   * The upgrade handler for MQTT over WebSocket, for a server that routes upgrades by path itself
   * (the admin server also serves its own WebSocket).
   */
  webSocketHandler(): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.deps.maxPacketBytes,
      // Browsers and mqtt.js ask for the `mqtt` subprotocol; agree to it when offered.
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    })
    this.#wss = wss
    return (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const stream = createWebSocketStream(ws)
        ws.on('error', (err) => {
          this.deps.metrics.protocolErrors.inc({ reason: 'websocket' })
          this.deps.log.info({ err: err.message }, 'WebSocket error; connection closed')
        })
        // errors surface on the ws and on the stream; aedes listens on the stream
        stream.on('error', () => { /* counted via the ws 'error' above or by aedes */ })
        // The admin TLS port upgrades over TLS: MQTT over secure WebSocket.
        this.accept(stream, req.socket instanceof TLSSocket ? 'wss' : 'ws', req)
      })
    }
  }

  get openConnections(): number { return this.#open.size }

  /** Stops accepting, then closes every open connection. */
  async close(): Promise<void> {
    const closing = this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
    for (const conn of this.#open) conn.destroy()
    this.#wss?.close()
    await Promise.all(closing)
  }

  #listen(server: TcpServer, host: string, port: number): Promise<number> {
    this.#servers.push(server)
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, LISTEN_BACKLOG, () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })
  }
}

function remoteOf(conn: Duplex, req?: IncomingMessage): string | undefined {
  const socket = (req?.socket ?? conn) as Partial<Socket>
  return socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined
}
