import { BrokerHandle } from './broker-handle.js'
import type { ChildRegistry } from './child-spawn.js'
import { RedisServer } from './redis-server.js'
import { plainTopics, sumStats, type Layout, type Placement, type SystemHandle, type SystemStats } from './system-handle.js'

/**
 * The references for the ring: two upstream aedes processes sharing one Redis server that the
 * bench starts on a free loopback port. Their message bus is mqemitter-redis; with `persistence`
 * (`aedes-cluster`, the aedes README's cluster) their sessions, QoS 1 messages in flight and
 * retained messages are in that Redis too (aedes-persistence-redis), without it (`aedes-redis`)
 * in each broker's memory. Publishers go to broker 1, subscribers to broker 2 (`cross`), so
 * every message crosses Redis the way a ring message crosses hubs.
 */
export class AedesRedisHandle implements SystemHandle {
  private constructor(readonly kind: 'aedes-cluster' | 'aedes-redis', private readonly redis: RedisServer, private readonly brokers: readonly BrokerHandle[]) {}

  static async start(registry: ChildRegistry, opts: { connections: number, output: (line: string) => void, redisServer: string, persistence: boolean }): Promise<AedesRedisHandle> {
    const redis = await RedisServer.start(opts.redisServer, registry)
    const brokers: BrokerHandle[] = []
    try {
      for (const name of ['aedes-1', 'aedes-2']) {
        brokers.push(await BrokerHandle.start('aedes', registry, { connections: opts.connections, output: opts.output, name, redisPort: redis.port, redisPersistence: opts.persistence }))
      }
    } catch (err) {
      await Promise.all(brokers.map((b) => b.stop()))
      await redis.stop()
      throw err
    }
    return new AedesRedisHandle(opts.persistence ? 'aedes-cluster' : 'aedes-redis', redis, brokers)
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
