import { AedesRedisHandle } from './aedes-redis-handle.js'
import { BrokerHandle } from './broker-handle.js'
import type { ChildRegistry } from './child-spawn.js'
import type { BenchOptions } from './cli-options.js'
import { findRedisServer, redisMissing } from './redis-server.js'
import { RingHandle } from './ring-handle.js'
import type { SystemHandle, SystemKind } from './system-handle.js'

export interface SystemStartOptions {
  connections: number
  output: (line: string) => void
}

/** Starts a fresh system of the given kind: one broker process, or a ring, or aedes+redis. */
export async function startSystem(kind: SystemKind, options: BenchOptions, registry: ChildRegistry, opts: SystemStartOptions): Promise<SystemHandle> {
  switch (kind) {
    case 'ring':
      return RingHandle.start(registry, {
        ...opts, replicationFactor: options.replicationFactor, profile: options.ringProfile,
        ...(options.hubCpuProfDir ? { cpuProfFlags: (id: string) => cpuProfFlags(options.hubCpuProfDir as string, `hub-${id}`) } : {}),
      })
    case 'aedes-cluster':
    case 'aedes-redis': {
      const redisServer = findRedisServer(options.redisServer)
      if (!redisServer) throw new Error(redisMissing(options.redisServer))
      return AedesRedisHandle.start(registry, { ...opts, redisServer, persistence: kind === 'aedes-cluster' })
    }
    case 'ringhub':
      return BrokerHandle.start(kind, registry, { ...opts, ...(options.hubCpuProfDir ? { nodeFlags: cpuProfFlags(options.hubCpuProfDir, 'ringhub') } : {}) })
    default:
      return BrokerHandle.start(kind, registry, opts)
  }
}

/** node flags for a CPU profile named after the process and the time it started (one file per run). */
function cpuProfFlags(dir: string, name: string): string[] {
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`]
}

/** Start, stop and worker forks around one measurement of a system, on top of the scenario's own budget. */
export function overheadMs(kind: SystemKind): number {
  return kind === 'ring' ? 25_000 : kind === 'aedes-redis' || kind === 'aedes-cluster' ? 10_000 : 5_000
}
