import type { MqttClient } from 'mqtt'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { ringOf } from './admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from './hubs.js'
import { close, connect } from './mqtt.js'

/**
 * Hub processes of one test, each with its own data directory, and the MQTT clients talking to
 * them; `cleanup` kills and removes everything (afterAll).
 */
export class RingFixture {
  readonly hubs = new Map<string, SpawnedHub>()
  readonly clients: MqttClient[] = []
  readonly #dirs = new Map<string, { path: string, remove: () => void }>()
  readonly #cleanups: Array<() => Promise<unknown>> = []

  constructor(private readonly commonArgs: readonly string[]) {}

  /**
   * Spawns `ringhub hub --id <id>` (joining through `seed`'s gossip port when given; `extra`
   * arguments last, e.g. `--gossip <old port>` to restart a hub where it was; `env` added to
   * the hub's environment, e.g. libfaketime's).
   */
  async spawn(id: string, seed?: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SpawnedHub> {
    const dir = this.#dirs.get(id) ?? tempDir()
    this.#dirs.set(id, dir)
    const join = seed === undefined ? [] : ['--join', `127.0.0.1:${this.hub(seed).ports.gossip}`]
    const hub = await spawnHub(['--id', id, '--data', dir.path, '--allow-anonymous', ...this.commonArgs, ...join, ...extra], { env })
    this.hubs.set(id, hub)
    return hub
  }

  hub(id: string): SpawnedHub { return this.hubs.get(id) as SpawnedHub }
  admin(id: string): string { return `127.0.0.1:${this.hub(id).ports.admin}` }
  url(id: string): string { return `mqtt://127.0.0.1:${this.hub(id).ports.mqtt}` }
  views(ids: readonly string[]): Promise<RingView[]> { return Promise.all(ids.map((id) => ringOf(this.admin(id)))) }

  /** A key (`devices/<tag>N`) that `owner` owns, as `via`'s admin API says (default: that hub itself). */
  async keyOwnedBy(owner: string, tag: string, via = owner): Promise<string> {
    for (let i = 0; ; i++) {
      const res = await fetch(`http://${this.admin(via)}/api/ring/owner?topic=devices/${tag}${i}/x`, { signal: AbortSignal.timeout(2_000) })
      if ((await res.json() as { owner: string }).owner === owner) return `devices/${tag}${i}`
    }
  }

  /** Runs `fn` at cleanup, before the hubs are killed (e.g. to stop a load generator). */
  onCleanup(fn: () => Promise<unknown>): void { this.#cleanups.push(fn) }

  /**
   * A clean-session client on `id` subscribed to `filter` at QoS 1: the payloads it receives,
   * in arrival order, and when the SUBACK came (performance.now()).
   */
  async subscriber(id: string, filter = 'devices/#'): Promise<{ received: string[], subAckAt: number }> {
    const sub = await connect(this.url(id), { clientId: `sub-${id}`, clean: true })
    this.clients.push(sub)
    const received: string[] = []
    sub.on('message', (_topic, payload) => received.push(payload.toString()))
    await sub.subscribeAsync(filter, { qos: 1 })
    return { received, subAckAt: performance.now() }
  }

  async cleanup(): Promise<void> {
    for (const fn of this.#cleanups) await fn()
    await close(...this.clients)
    await Promise.all([...this.hubs.values()].map((h) => stopHub(h, 'SIGKILL')))
    for (const d of this.#dirs.values()) d.remove()
  }
}

/** Membership and routing counters of one hub that explain a failure (wrong deaths, drops). */
export async function faultCounters(admin: string): Promise<string> {
  const text = await (await fetch(`http://${admin}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const value = (series: string): number => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  const membership = (event: string): number => value(`ringhub_membership_events_total{event="${event}"}`)
  const routing = (event: string): number => value(`ringhub_router_events_total{event="${event}"}`)
  return `${membership('memberDied')} deaths seen, ${membership('selfRefuted')} refutations, ${routing('forwardRetries')} forward retries, `
    + `${routing('duplicates')} duplicate forwards, ${routing('handoffsReceived')} handoffs received, ${routing('deliveriesDropped')} deliveries dropped`
}
