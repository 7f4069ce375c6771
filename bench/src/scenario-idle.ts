import type { IdleResult, IdleSpec } from './ipc-protocol.js'
import { sleep, type Scenario } from './scenario.js'
import { WorkerPool } from './worker-pool.js'

/** Handshakes in flight per worker: well under the listen backlog, so no SYN is dropped. */
const CONCURRENCY_PER_WORKER = 100
/** Time for the broker to finish what the last CONNECTs started before a reading. */
const SETTLE_MS = 500
/** Share of the connections opened before the middle reading. */
const FIRST_SHARE = 0.1

/**
 * Memory per idle connection: the broker's RSS after a full GC with no clients, with 10% of the
 * clients, and with all `idleConnections` clients connected (clean session, keep-alive off, no
 * subscriptions), spread over several worker processes.
 *  - RSS/conn = (all − none) / N: the figure the target is judged on; includes one-time costs
 *    (V8 heap growth, code compiled on first use), which weigh more at small N.
 *  - marginal RSS/conn = (all − 10%) / 0.9N: what one more connection costs once warm.
 */
export function idleScenario(): Scenario {
  return {
    name: 'idle-conns',
    title: 'Idle connections',
    description: 'N idle MQTT clients (CONNECT clean session, keep-alive 0, nothing else) from several worker processes; ' +
      'broker RSS after a full GC with none, 10% and all of them connected. RSS/conn = (all - none) / N; ' +
      'marginal = (all - 10%) / 0.9N. Also heap per connection and the connect rate.',
    metrics: [
      { key: 'kbPerConn', label: 'RSS/conn', unit: 'KB', better: 'lower', digits: 2, target: { kind: 'max', value: 20 } },
      { key: 'marginalKbPerConn', label: 'marginal RSS/conn', unit: 'KB', better: 'lower', digits: 2 },
      { key: 'heapKbPerConn', label: 'heap/conn', unit: 'KB', better: 'lower', digits: 2 },
      { key: 'connectsPerS', label: 'connects/s', unit: '1/s', better: 'higher', digits: 0 },
    ],
    connections: (o) => o.idleConnections,
    budgetMs: (o) => 15_000 + o.idleConnections * 2,
    async run(broker, ctx) {
      const total = ctx.options.idleConnections
      const workers = Math.max(1, Math.min(ctx.options.idleWorkers, Math.ceil(total / 100)))
      const first = Math.max(1, Math.round(total * FIRST_SHARE))
      const open = async (count: number, phase: string): Promise<IdleResult[]> => {
        const share = Math.ceil(count / workers)
        const specs: IdleSpec[] = Array.from({ length: workers }, (_, i) => ({
          clientIdPrefix: `idle-${broker.kind}-${process.pid}-${phase}${i}`,
          count: Math.max(0, Math.min(share, count - i * share)),
          concurrency: CONCURRENCY_PER_WORKER,
          keepaliveS: 0,
        }))
        const results = await pool.idle(port, specs, 60_000 + count * 10)
        await sleep(SETTLE_MS)
        return results
      }

      const { publishPort: port } = await broker.place('single', 0)
      const none = await broker.memory()
      const pool = await WorkerPool.start(workers, ctx.registry, ctx.output, Math.ceil(total / workers) + 256)
      try {
        const firstResults = await open(first, 'a')
        const some = await broker.memory()
        const restResults = await open(total - first, 'b')
        const all = await broker.memory()

        const results = [...firstResults, ...restResults]
        const connected = results.reduce((n, r) => n + r.connected, 0)
        const connectedFirst = firstResults.reduce((n, r) => n + r.connected, 0)
        const failed = results.reduce((n, r) => n + r.failed, 0)
        const warnings: string[] = []
        if (failed > 0) warnings.push(`${failed} connection(s) failed: ${results.find((r) => r.firstError)?.firstError ?? '?'}`)
        if (all.clients !== connected) warnings.push(`broker counts ${all.clients} clients, workers hold ${connected}`)
        const kb = (bytes: number, n: number): number => (n > 0 ? bytes / 1024 / n : NaN)
        const slowest = (rs: IdleResult[]): number => Math.max(...rs.map((r) => r.elapsedMs))
        return {
          metrics: {
            kbPerConn: kb(all.rssBytes - none.rssBytes, connected),
            marginalKbPerConn: kb(all.rssBytes - some.rssBytes, connected - connectedFirst),
            heapKbPerConn: kb(all.heapUsedBytes - none.heapUsedBytes, connected),
            connectsPerS: connected / ((slowest(firstResults) + slowest(restResults)) / 1000),
          },
          details: {
            connected, failed, workers,
            rssNoneMiB: mib(none.rssBytes), rssSomeMiB: mib(some.rssBytes), rssAllMiB: mib(all.rssBytes),
            heapNoneMiB: mib(none.heapUsedBytes), heapAllMiB: mib(all.heapUsedBytes),
          },
          warnings,
        }
      } finally {
        await pool.stop()
      }
    },
  }
}

function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10
}
