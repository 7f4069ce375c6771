/**
 * Child process: runs one broker under test — `node broker-process.js <ringhub|aedes|relay> [json]`,
 * the JSON being `BrokerArgs` (a ringhub's data directory and ring membership, an aedes broker's
 * Redis server) — tells the runner its ports (`ready`), answers resource-use questions, and stops
 * on request or when the runner goes away. One broker per process, so its CPU and RSS are its own.
 */
import { readFileSync } from 'node:fs'
import { serveRequests, sendToParent } from './ipc-child.js'
import { BROKER_KINDS, type BrokerArgs, type BrokerKind, type BrokerReady, type BrokerReply, type BrokerRequest, type BrokerStats } from './ipc-protocol.js'
import type { RunningBroker } from './running-broker.js'

const STOP_DEADLINE_MS = 5000

async function start(kind: BrokerKind, args: BrokerArgs): Promise<RunningBroker> {
  switch (kind) {
    // Imported lazily: the aedes and relay processes must not load the hub (or better-sqlite3).
    case 'ringhub': {
      if (!args.dataDir) throw new Error('ringhub needs a data directory (dataDir in the JSON argument)')
      const { startRinghub } = await import('./broker-ringhub.js')
      return startRinghub(args.dataDir, args.hub)
    }
    case 'aedes': {
      const redis = args.redisPort === undefined ? undefined : { port: args.redisPort, persistence: args.redisPersistence === true }
      return (await import('./broker-aedes.js')).startAedes(redis)
    }
    case 'relay': return (await import('./broker-relay.js')).startRelay()
  }
}

function stats(broker: RunningBroker): BrokerStats {
  const cpu = process.cpuUsage()
  const memory = process.memoryUsage()
  return {
    type: 'stats',
    atMs: performance.now(),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: readRss() ?? memory.rss,
    heapUsedBytes: memory.heapUsed,
    clients: broker.clients(),
  }
}

/** VmRSS from /proc (what `ps` shows); undefined where /proc is missing. */
function readRss(): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch {
    return undefined
  }
}

async function fullGc(): Promise<void> {
  // Started with --expose-gc by the runner. Two passes with a turn between them let weak
  // callbacks and finalizers release what the first pass found.
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('broker process needs --expose-gc for memory readings')
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
}

async function main(): Promise<void> {
  const kind = process.argv[2] as BrokerKind
  if (!BROKER_KINDS.includes(kind)) throw new Error(`unknown broker kind ${JSON.stringify(kind)} (one of ${BROKER_KINDS.join(', ')})`)
  const broker = await start(kind, JSON.parse(process.argv[3] ?? '{}') as BrokerArgs)

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const deadline = setTimeout(() => process.exit(1), STOP_DEADLINE_MS)
      await broker.stop()
      clearTimeout(deadline)
    })()
    return stopping
  }

  serveRequests<BrokerRequest, BrokerReply>(async (req) => {
    switch (req.type) {
      case 'stats': return stats(broker)
      case 'memory': await fullGc(); return stats(broker)
      case 'stop':
        await stop()
        // Reply first, then end: disconnecting lets the process exit on its own; the unref'd
        // timer ends it anyway if a library left a handle open.
        setImmediate(() => process.disconnect())
        setTimeout(() => process.exit(0), 1000).unref()
        return { type: 'ok' }
    }
  }, () => { void stop().then(() => process.exit(0)) })

  sendToParent<BrokerReady>({ id: 0, body: { type: 'ready', port: broker.port, pid: process.pid, ...broker.extraPorts } })
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err))
  process.exit(1)
})
