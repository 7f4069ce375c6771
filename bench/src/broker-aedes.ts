import type { EventEmitter } from 'node:events'
import { createServer, type Socket } from 'node:net'
// The upstream package, installed under an alias: the hub's own `aedes` carries our patches
// (patches/aedes+1.2.0.patch), the reference must not.
import { Aedes } from 'aedes-upstream'
import type { RedisPersistence } from 'aedes-persistence-redis'
import type { RunningBroker } from './running-broker.js'
import { closeServer, listenLoopback } from './net-util.js'

/** Longest wait for both Redis connections of mqemitter-redis before the broker reports ready. */
const REDIS_CONNECT_TIMEOUT_MS = 10_000

/**
 * The reference: aedes 1.2 with its default in-memory persistence and no hooks. The listener
 * sets TCP_NODELAY like the hub's does, so latency differences come from the broker, not Nagle.
 *
 * With `redis` it is one broker of a 2-broker aedes setup sharing one Redis server: its message
 * bus is mqemitter-redis (every publish goes through Redis pub/sub and comes back to each broker
 * with a matching subscription). With `redis.persistence` its persistence is
 * aedes-persistence-redis on the same server too — the aedes README's cluster ("Aedes needs on
 * disk dbs like MongoDB and Redis in order to work with clusters"): sessions, QoS 1 messages in
 * flight and retained messages live in Redis, so a client can move to the other broker. Without
 * it persistence stays in each broker's memory: the cheapest shared-bus setup, but not one
 * broker to its clients (a retained message or a session stays on the broker that got it).
 */
export async function startAedes(redis?: { port: number, persistence: boolean }): Promise<RunningBroker> {
  const mq = redis === undefined ? undefined : await redisEmitter(redis.port)
  const persistence = redis?.persistence === true ? await redisPersistence(redis.port) : undefined
  const broker = await Aedes.createBroker({ ...(mq ? { mq } : {}), ...(persistence ? { persistence } : {}) })
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
      // aedes closes its emitter (mqemitter-redis quits both Redis connections), not its
      // persistence, which unsubscribes through that emitter when destroyed: so it goes first.
      // Without a callback: the wrapper's callback form waits for a `ready` that only older
      // aedes versions trigger (they set `persistence.broker`; aedes 1.2 calls `setup()`).
      await persistence?.destroy()
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

/**
 * aedes-persistence-redis on 127.0.0.1:port (its main export: the callback and stream form that
 * aedes 1.2's handlers call). Its connection is ready once aedes's `setup()` has read the
 * stored sessions through it.
 */
async function redisPersistence(port: number): Promise<RedisPersistence> {
  // Imported only here, like mqemitter-redis (typings: aedes-persistence-redis.d.ts).
  const { default: createPersistence } = await import('aedes-persistence-redis')
  return createPersistence({ host: '127.0.0.1', port })
}

/** The part of an ioredis connection used here. */
interface RedisConnection extends EventEmitter {
  status: string
}
