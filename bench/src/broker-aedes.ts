import { createServer, type Socket } from 'node:net'
// The upstream package, installed under an alias: the hub's own `aedes` carries our patches
// (patches/aedes+1.2.0.patch), the reference must not.
import { Aedes } from 'aedes-upstream'
import type { RunningBroker } from './running-broker.js'
import { closeServer, listenLoopback } from './net-util.js'

/**
 * The reference: aedes 1.2 with its default in-memory persistence and no hooks. The listener
 * sets TCP_NODELAY like the hub's does, so latency differences come from the broker, not Nagle.
 */
export async function startAedes(): Promise<RunningBroker> {
  const broker = await Aedes.createBroker()
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    broker.handle(socket)
  })
  const port = await listenLoopback(server)
  return {
    port,
    clients: () => broker.connectedClients,
    stop: async () => {
      const closed = closeServer(server)
      for (const socket of sockets) socket.destroy()
      await closed
      await new Promise<void>((resolve) => broker.close(() => resolve()))
    },
  }
}
