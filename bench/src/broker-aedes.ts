import type { EventEmitter } from 'node:events'
import { createServer, type Socket } from 'node:net'
// The upstream package, installed under an alias: the hub's own `aedes` carries our patches
// (patches/aedes+1.2.0.patch), the reference must not.
import { Aedes } from 'aedes-upstream'
import type { RunningBroker } from './running-broker.js'
import { closeServer, listenLoopback } from './net-util.js'

/** Longest wait for both Redis connections of mqemitter-redis before the broker reports ready. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000

/**
 * The reference: aedes 1.2 with its default in-memory persistence and no hooks. The listener
 * sets TCP_NODELAY like the hub's does, so latency differences come from the broker, not Nagle.
 *
 * With `redisPort` it is one broker of an aedes cluster as aedes users build one: its message
 * bus is mqemitter-redis on that Redis server (every publish goes through Redis pub/sub and
 * comes back to each broker with a matching subscription); persistence stays in memory (clean
 * sessions need nothing shared).
 */
export async function startAedes(redisPort?: number): Promise<RunningBroker> {
  const mq = redisPort === undefined ? undefined : await redisEmitter(redisPort)
  const broker = await Aedes.createBroker(mq ? { mq } : {})
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
      // aedes closes its emitter (mqemitter-redis quits both Redis connections).
      await new Promise<void>((resolve) => broker.close(() => resolve()))
    },
  }
}

/**
 * An mqemitter-redis instance whose two Redis connections (publish, subscribe) are ready.
 * "Ready", not just connected: ioredis runs a ready check (INFO) after connecting, and a
 * SUBSCRIBE sent before it ends (aedes subscribes while it starts) puts the connection in
 * subscriber mode first, so the check fails and the process dies.
 */
async function redisEmitter(port: number): Promise<unknown> {
  // Imported only here: the plain aedes and ringhub processes need no Redis client.
  const { default: createEmitter } = await import('mqemitter-redis')
  const mq = createEmitter({ host: '127.0.0.1', port })
  // The two connections are properties of the implementation, not in the package's typings.
  const { pubConn, subConn } = mq as unknown as { pubConn: RedisConnection, subConn: RedisConnection }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mqemitter-redis: Redis on 127.0.0.1:${port} not ready within ${REDIS_CONNECT_TIMEOUT_MS} ms`)), REDIS_CONNECT_TIMEOUT_MS)
    let waiting = 0
    for (const conn of [pubConn, subConn]) {
      if (conn.status === 'ready') continue
      waiting++
      conn.once('ready', () => { if (--waiting === 0) { clearTimeout(timer); resolve() } })
    }
    if (waiting === 0) { clearTimeout(timer); resolve() }
  })
  return mq
}

/** The part of an ioredis connection used here. */
interface RedisConnection extends EventEmitter {
  status: string
}
