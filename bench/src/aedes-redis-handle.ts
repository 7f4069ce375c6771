import { BrokerHandle } from './broker-handle.js'
import type { ChildRegistry } from './child-spawn.js'
import { RedisServer } from './redis-server.js'
import { plainTopics, sumStats, type Layout, type Placement, type SystemHandle, type SystemStats } from './system-handle.js'

/**
 * The reference for the ring: a 2-broker aedes cluster as aedes users build one — two upstream
 * aedes processes whose message bus is mqemitter-redis on one Redis server that the bench starts
 * on a free loopback port. Publishers go to broker 1, subscribers to broker 2 (`cross`), so
 * every message crosses Redis the way a ring message crosses hubs.
 */
export class AedesRedisHandle implements SystemHandle {
  readonly kind = 'aedes-redis'

  private constructor(private readonly redis: RedisServer, private readonly brokers: readonly BrokerHandle[]) {}

  static async start(registry: ChildRegistry, opts: { connections: number, output: (line: string) => void, redisServer: string }): Promise<AedesRedisHandle> {
    const redis = await RedisServer.start(opts.redisServer, registry)
    const brokers: BrokerHandle[] = []
    try {
      for (const name of ['aedes-1', 'aedes-2']) {
        brokers.push(await BrokerHandle.start('aedes', registry, { connections: opts.connections, output: opts.output, name, redisPort: redis.port }))
      }
    } catch (err) {
      await Promise.all(brokers.map((b) => b.stop()))
      await redis.stop()
      throw err
    }
    return new AedesRedisHandle(redis, brokers)
  }

  get alive(): boolean { return this.redis.alive && this.brokers.every((b) => b.alive) }

  #broker(i: number): BrokerHandle { return this.brokers[i] as BrokerHandle }

  place(layout: Layout, topics: number): Promise<Placement> {
    const [one, two] = [this.#broker(0).port, this.#broker(1).port]
    const roles = { redis: `127.0.0.1:${this.redis.port}` }
    switch (layout) {
      case 'single':
      case 'local':
        return Promise.resolve({ publishPort: one, subscribePorts: [one], topics: plainTopics(topics), roles: { ...roles, publishers: 'aedes-1', subscribers: 'aedes-1' } })
      case 'cross':
        return Promise.resolve({ publishPort: one, subscribePorts: [two], topics: plainTopics(topics), roles: { ...roles, publishers: 'aedes-1', subscribers: 'aedes-2' } })
      case 'spread':
        return Promise.resolve({ publishPort: one, subscribePorts: [one, two], topics: plainTopics(topics), roles: { ...roles, publishers: 'aedes-1', subscribers: 'aedes-1, aedes-2' } })
    }
  }

  async stats(): Promise<SystemStats> {
    const parts = await Promise.all(this.brokers.map(async (b, i) => [`aedes-${i + 1}`, await b.stats()] as const))
    return sumStats(performance.now(), [...parts, ['redis', this.#redisStats()]])
  }

  async memory(): Promise<SystemStats> {
    const parts = await Promise.all(this.brokers.map(async (b, i) => [`aedes-${i + 1}`, await b.memory()] as const))
    return sumStats(performance.now(), [...parts, ['redis', this.#redisStats()]])
  }

  #redisStats(): Omit<SystemStats, 'atMs'> {
    if (!this.redis.alive) return { cpuUserUs: NaN, cpuSystemUs: NaN, rssBytes: NaN, heapUsedBytes: 0, clients: 0 }
    return { ...this.redis.usage(), heapUsedBytes: 0, clients: 0 }
  }

  async stop(): Promise<string | undefined> {
    const problems = await Promise.all(this.brokers.map(async (b, i) => {
      const p = await b.stop()
      return p === undefined ? undefined : `aedes-${i + 1} ${p}`
    }))
    problems.push(await this.redis.stop())
    const found = problems.filter((p) => p !== undefined)
    return found.length > 0 ? found.join('; ') : undefined
  }
}
