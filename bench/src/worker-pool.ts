import type { ChildChannel } from './child-channel.js'
import { spawnChild, type ChildRegistry } from './child-spawn.js'
import type { ClientSpec, WorkerReady, IdleResult, IdleSpec, LatencyResult, LatencySpec, WorkerReply, WorkerRequest, WorkerSnapshot } from './ipc-protocol.js'

const SETUP_TIMEOUT_MS = 30_000
const REQUEST_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
/** Subscribers count as drained when nothing arrived for this long. */
const DRAIN_POLL_MS = 250

type Worker = ChildChannel<WorkerRequest, WorkerReply>

/**
 * A set of load-generator processes driven in step. Requests go to all workers at once and the
 * pool waits for every reply, so "start" and "snapshot" happen within an IPC round trip of each
 * other across workers.
 */
export class WorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  static async start(count: number, registry: ChildRegistry, output: (line: string) => void, fdsEach = 1024): Promise<WorkerPool> {
    const workers: Worker[] = []
    try {
      for (let i = 0; i < count; i++) {
        workers.push(spawnChild<WorkerRequest, WorkerReply>(registry, { name: `load-${i}`, script: 'load-worker.js', fds: fdsEach, output }))
      }
      // Requests sent before the worker listens for them would be lost: wait for its hello.
      await Promise.all(workers.map((w) => w.next<WorkerReady>('ready', SETUP_TIMEOUT_MS)))
    } catch (err) {
      for (const w of workers) w.kill()
      await Promise.all(workers.map((w) => w.exited))
      throw err
    }
    return new WorkerPool(workers)
  }

  get size(): number { return this.workers.length }

  /** Hands worker i the clients in `plan[i]` and waits until all of them are connected and subscribed. */
  async setup(port: number, plan: ClientSpec[][]): Promise<void> {
    await Promise.all(this.workers.map((w, i) => w.request({ type: 'setup', port, clients: plan[i] ?? [] }, 'ok', SETUP_TIMEOUT_MS)))
  }

  async startPublishing(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'start' }, 'ok', REQUEST_TIMEOUT_MS)))
  }

  snapshot(): Promise<WorkerSnapshot[]> {
    return Promise.all(this.workers.map((w) => w.request({ type: 'snapshot' }, 'snapshot', REQUEST_TIMEOUT_MS)))
  }

  latency(index: number, port: number, spec: LatencySpec): Promise<LatencyResult> {
    const worker = this.workers[index]
    if (!worker) throw new RangeError(`no worker ${index}`)
    const budgetMs = spec.warmupMs + spec.durationMs + 30_000
    return worker.request({ type: 'latency', port, spec }, 'latency', budgetMs)
  }

  idle(port: number, specs: IdleSpec[], timeoutMs: number): Promise<IdleResult[]> {
    return Promise.all(this.workers.map((w, i) => w.request({ type: 'idle', port, spec: specs[i] as IdleSpec }, 'idle', timeoutMs)))
  }

  /**
   * Aborts the publishers (their unread backlog is dropped), then waits (at most `maxMs`) until
   * the subscribers have received what the broker had already taken in. Closing subscribers
   * while a QoS 0 backlog is still queued in the broker overflows the stack in aedes' mqemitter
   * (both brokers crash; see README "Known issue"): a robustness finding, not what a throughput
   * run measures.
   */
  async drain(maxMs: number): Promise<{ drained: boolean, afterHalt: number, elapsedMs: number }> {
    const startMs = Date.now()
    const atHalt = await this.#received()
    await Promise.all(this.workers.map((w) => w.request({ type: 'halt' }, 'ok', REQUEST_TIMEOUT_MS)))
    let last = -1
    for (;;) {
      const received = await this.#received()
      if (received === last) return { drained: true, afterHalt: received - atHalt, elapsedMs: Date.now() - startMs }
      if (Date.now() - startMs >= maxMs) return { drained: false, afterHalt: received - atHalt, elapsedMs: Date.now() - startMs }
      last = received
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS))
    }
  }

  async #received(): Promise<number> {
    return (await this.snapshot()).reduce((n, s) => n + s.received, 0)
  }

  /** Closes every client and ends every worker (killing the ones that do not end in time). */
  async stop(): Promise<void> {
    // A worker that stops badly says so in its own output; the measurement is already taken.
    await Promise.all(this.workers.map((w) => w.shutdown({ type: 'stop' }, STOP_TIMEOUT_MS)))
  }
}

/** Deals `items` round-robin over `n` buckets. */
export function deal<T>(items: readonly T[], n: number): T[][] {
  const buckets: T[][] = Array.from({ length: n }, () => [])
  items.forEach((item, i) => buckets[i % n]?.push(item))
  return buckets
}
