import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildChannel } from './child-channel.js'
import { spawnChild, type ChildRegistry } from './child-spawn.js'
import { plainTopics, type Placement, type SystemHandle } from './system-handle.js'
import type { BrokerArgs, BrokerKind, BrokerReady, BrokerReply, BrokerRequest, BrokerStats, HubNodeOptions } from './ipc-protocol.js'

const START_TIMEOUT_MS = 20_000
const REQUEST_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000

export interface BrokerStartOptions {
  /** Connections the broker must be able to hold (sets its fd limit). */
  connections: number
  output: (line: string) => void
  /** Name in the output (default: the kind). */
  name?: string
  /** ringhub: a member of a ring rather than a hub alone. */
  hub?: HubNodeOptions
  /** aedes: share messages through the Redis server on this loopback port. */
  redisPort?: number
  /** aedes with redisPort: its persistence in that Redis server too (aedes-persistence-redis). */
  redisPersistence?: boolean
  /** Extra node flags for the broker process (e.g. --cpu-prof). */
  nodeFlags?: readonly string[]
}

/**
 * The runner's handle on one broker process: started fresh for every measurement, in its own
 * process (so CPU and RSS readings are its own), with a fresh data directory that is removed
 * when it stops.
 */
export class BrokerHandle implements SystemHandle {
  private constructor(
    readonly kind: BrokerKind,
    readonly port: number,
    readonly pid: number,
    /** A hub's admin HTTP and gossip ports; undefined for other brokers. */
    readonly extraPorts: { admin: number, gossip: number } | undefined,
    private readonly channel: ChildChannel<BrokerRequest, BrokerReply>,
    /** Removes the data directory (idempotent). */
    private readonly removeData: () => void,
  ) {}

  static async start(kind: BrokerKind, registry: ChildRegistry, opts: BrokerStartOptions): Promise<BrokerHandle> {
    const dataDir = kind === 'ringhub' ? mkdtempSync(join(tmpdir(), 'ringhub-bench-')) : undefined
    const remove = (): void => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }) }
    const unregister = registry.addCleanup(remove)
    const removeData = (): void => { unregister(); remove() }
    let channel: ChildChannel<BrokerRequest, BrokerReply> | undefined
    try {
      const args: BrokerArgs = { dataDir, hub: opts.hub, redisPort: opts.redisPort, redisPersistence: opts.redisPersistence }
      channel = spawnChild<BrokerRequest, BrokerReply>(registry, {
        name: opts.name ?? kind,
        script: 'broker-process.js',
        args: [kind, JSON.stringify(args)],
        nodeFlags: ['--expose-gc', ...(opts.nodeFlags ?? [])],
        fds: opts.connections + 256,
        output: opts.output,
      })
      const ready = await channel.next<BrokerReady>('ready', START_TIMEOUT_MS)
      const extraPorts = ready.admin !== undefined && ready.gossip !== undefined ? { admin: ready.admin, gossip: ready.gossip } : undefined
      return new BrokerHandle(kind, ready.port, ready.pid, extraPorts, channel, removeData)
    } catch (err) {
      if (channel) {
        channel.kill()
        await channel.exited
      }
      removeData()
      throw err
    }
  }

  get alive(): boolean { return this.channel.alive }

  /** One broker: every layout puts every client on it. */
  place(_layout: string, topics: number): Promise<Placement> {
    return Promise.resolve({ publishPort: this.port, subscribePorts: [this.port], topics: plainTopics(topics), roles: { broker: this.kind } })
  }

  stats(): Promise<BrokerStats> {
    return this.channel.request({ type: 'stats' }, 'stats', REQUEST_TIMEOUT_MS)
  }

  /** Resource use after a full GC in the broker. */
  memory(): Promise<BrokerStats> {
    return this.channel.request({ type: 'memory' }, 'stats', REQUEST_TIMEOUT_MS)
  }

  /** Stops the broker; resolves with a description when it had crashed or did not stop cleanly. */
  async stop(): Promise<string | undefined> {
    try {
      return await this.channel.shutdown({ type: 'stop' }, STOP_TIMEOUT_MS)
    } finally {
      this.removeData()
    }
  }
}
