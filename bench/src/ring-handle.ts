import { BrokerHandle } from './broker-handle.js'
import type { ChildRegistry } from './child-spawn.js'
import { hubCounters } from './prom-text.js'
import { sumStats, type Layout, type NodeCounters, type Placement, type SystemHandle, type SystemStats } from './system-handle.js'

const RING_TIMEOUT_MS = 20_000
const HTTP_TIMEOUT_MS = 3_000
/** Candidate topics tried when looking for keys owned by one hub (a third of them are). */
const MAX_CANDIDATES = 1000

/** The hubs of the benchmark ring. Ownership hashes the ids, so the same topics land on the same hubs in every run. */
export const RING_IDS = ['a', 'b', 'c'] as const
type HubId = typeof RING_IDS[number]

export interface RingOptions {
  connections: number
  output: (line: string) => void
  /** Copies of every message (the hubs' --replication-factor). */
  replicationFactor: number
  profile: 'lan' | 'edge'
  /** Extra node flags of each hub process, by hub id (--cpu-prof and where its profile goes). */
  cpuProfFlags?: (id: string) => string[]
}

interface OwnerAnswer { topic: string, key: string, owner: string, replicas: string[] }
interface RingViewLite { checksum: string, members: Array<{ id: string, state: string, addresses: { interHub?: string } }> }

/**
 * Three ringhub hubs, each its own process (as `ringhub hub` builds it, fresh data directory),
 * on loopback port 0, joined into one ring: `a` first, `b` and `c` joining through it. Layouts
 * (`place`): `cross` = publishers on a, subscribers on c, keys owned by b (A → B → C); `local` =
 * all on b, keys owned by b; `spread` = publishers on a, keys owned by b, subscribers on a, b, c.
 * Owners come from the hubs' own admin API (`/api/ring/owner`), so the layout is what the ring
 * really does.
 */
export class RingHandle implements SystemHandle {
  readonly kind = 'ring'

  private constructor(private readonly hubs: ReadonlyMap<HubId, BrokerHandle>) {}

  static async start(registry: ChildRegistry, opts: RingOptions): Promise<RingHandle> {
    const hubs = new Map<HubId, BrokerHandle>()
    const start = (id: HubId, join: string[]): Promise<BrokerHandle> => BrokerHandle.start('ringhub', registry, {
      connections: opts.connections, output: opts.output, name: `hub-${id}`, nodeFlags: opts.cpuProfFlags?.(id) ?? [],
      hub: { id, join, replicationFactor: opts.replicationFactor, profile: opts.profile },
    })
    try {
      const first = await start('a', [])
      hubs.set('a', first)
      const seed = `127.0.0.1:${(first.extraPorts as { gossip: number }).gossip}`
      const rest = await Promise.allSettled(RING_IDS.slice(1).map(async (id) => { hubs.set(id, await start(id, [seed])) }))
      const failed = rest.find((r) => r.status === 'rejected')
      if (failed) throw (failed as PromiseRejectedResult).reason
      const ring = new RingHandle(hubs)
      await ring.#waitForRing()
      return ring
    } catch (err) {
      await Promise.all([...hubs.values()].map((h) => h.stop()))
      throw err
    }
  }

  get alive(): boolean { return [...this.hubs.values()].every((h) => h.alive) }

  /** Each hub's MQTT and admin (HTTP, WebSocket) ports, for benches that connect clients themselves. */
  endpoints(): Array<{ id: HubId, mqtt: number, admin: number }> {
    return RING_IDS.map((id) => ({ id, mqtt: this.#hub(id).port, admin: (this.#hub(id).extraPorts as { admin: number }).admin }))
  }

  #hub(id: HubId): BrokerHandle { return this.hubs.get(id) as BrokerHandle }

  async #get<T>(id: HubId, path: string): Promise<T> {
    const admin = (this.#hub(id).extraPorts as { admin: number }).admin
    const res = await fetch(`http://127.0.0.1:${admin}${path}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })
    if (!res.ok) throw new Error(`hub ${id}: GET ${path} answered ${res.status}`)
    return (path === '/metrics' ? await res.text() : await res.json()) as T
  }

  /** Until every hub sees all three alive with one checksum, and knows each peer's inter-hub address. */
  async #waitForRing(): Promise<void> {
    const deadline = Date.now() + RING_TIMEOUT_MS
    let last: string
    for (;;) {
      try {
        const views = await Promise.all(RING_IDS.map((id) => this.#get<RingViewLite>(id, '/api/ring')))
        const complete = (v: RingViewLite): boolean => RING_IDS.every((id) => v.members.some((m) => m.id === id && m.state === 'alive' && m.addresses.interHub !== undefined))
        if (views.every(complete) && new Set(views.map((v) => v.checksum)).size === 1) return
        last = views.map((v, i) => `${RING_IDS[i]} sees ${v.members.map((m) => `${m.id}:${m.state}`).join(',')} (${v.checksum})`).join('; ')
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() > deadline) throw new Error(`the three hubs did not form one ring within ${RING_TIMEOUT_MS} ms: ${last}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** `count` topics `devices/r<i>/t` whose key the ring gives to `owner`, as hubs a and c both say. */
  async #topicsOwnedBy(owner: HubId, count: number): Promise<{ topics: string[], replicas: Set<string> }> {
    const topics: string[] = []
    const replicas = new Set<string>()
    for (let i = 0; topics.length < count; i++) {
      if (i >= MAX_CANDIDATES) throw new Error(`fewer than ${count} of ${MAX_CANDIDATES} keys are owned by hub ${owner}`)
      const topic = `devices/r${i}/t`
      const q = `/api/ring/owner?topic=${encodeURIComponent(topic)}`
      const [fromA, fromC] = await Promise.all([this.#get<OwnerAnswer>('a', q), this.#get<OwnerAnswer>('c', q)])
      if (fromA.owner !== fromC.owner) throw new Error(`hubs a and c disagree on the owner of ${topic}: ${fromA.owner} / ${fromC.owner}`)
      if (fromA.owner !== owner) continue
      topics.push(topic)
      for (const r of fromA.replicas.slice(1)) replicas.add(r)
    }
    return { topics, replicas }
  }

  async place(layout: Layout, count: number): Promise<Placement> {
    const { topics, replicas } = await this.#topicsOwnedBy('b', count)
    const port = (id: HubId): number => this.#hub(id).port
    const roles = { owner: 'b', replicas: [...replicas].sort().join(', ') }
    switch (layout) {
      case 'single':
      case 'local':
        return { publishPort: port('b'), subscribePorts: [port('b')], topics, roles: { ...roles, ingress: 'b', subscribers: 'b' } }
      case 'cross':
        return { publishPort: port('a'), subscribePorts: [port('c')], topics, roles: { ...roles, ingress: 'a', subscribers: 'c' } }
      case 'spread':
        return { publishPort: port('a'), subscribePorts: RING_IDS.map(port), topics, roles: { ...roles, ingress: 'a', subscribers: RING_IDS.join(', ') } }
    }
  }

  async stats(): Promise<SystemStats> {
    return sumStats(performance.now(), await Promise.all(RING_IDS.map(async (id) => [`hub-${id}`, await this.#hub(id).stats()] as const)))
  }

  async memory(): Promise<SystemStats> {
    return sumStats(performance.now(), await Promise.all(RING_IDS.map(async (id) => [`hub-${id}`, await this.#hub(id).memory()] as const)))
  }

  /** Router and inter-hub counters of every hub, from its /metrics. */
  async counters(): Promise<Record<string, NodeCounters>> {
    const texts = await Promise.all(RING_IDS.map((id) => this.#get<string>(id, '/metrics')))
    return Object.fromEntries(RING_IDS.map((id, i) => [id, hubCounters(texts[i] as string)]))
  }

  async stop(): Promise<string | undefined> {
    const problems = await Promise.all(RING_IDS.map(async (id) => {
      const p = await this.#hub(id).stop()
      return p === undefined ? undefined : `hub ${id} ${p}`
    }))
    const found = problems.filter((p) => p !== undefined)
    return found.length > 0 ? found.join('; ') : undefined
  }
}
