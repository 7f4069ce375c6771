import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildChannel } from './child-channel.js'
import { spawnChild, type ChildRegistry } from './child-spawn.js'
import type { BrokerKind, BrokerReady, BrokerReply, BrokerRequest, BrokerStats } from './ipc-protocol.js'

const START_TIMEOUT_MS = 20_000
const REQUEST_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000

export interface BrokerStartOptions {
  /** Connections the broker must be able to hold (sets its fd limit). */
  connections: number
  output: (line: string) => void
}

/**
 * The runner's handle on one broker process: started fresh for every measurement, in its own
 * process (so CPU and RSS readings are its own), with a fresh data directory that is removed
 * when it stops.
 */
export class BrokerHandle {
  private constructor(
    readonly kind: BrokerKind,
    readonly port: number,
    readonly pid: number,
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
      channel = spawnChild<BrokerRequest, BrokerReply>(registry, {
        name: kind,
        script: 'broker-process.js',
        args: dataDir ? [kind, dataDir] : [kind],
        nodeFlags: ['--expose-gc'],
        fds: opts.connections + 256,
        output: opts.output,
      })
      const ready = await channel.next<BrokerReady>('ready', START_TIMEOUT_MS)
      return new BrokerHandle(kind, ready.port, ready.pid, channel, removeData)
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
