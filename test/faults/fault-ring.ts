import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { counter, linksDownOf, oneRing, ringOf, stateIn } from '../helpers/admin.js'
import { spawnHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { TestNet } from '../helpers/netns.js'
import { Qos1Load } from '../helpers/qos1-load.js'
import { waitFor } from '../helpers/wait.js'
import { History } from './history.js'

/**
 * Hub processes on test hosts (one network namespace each, `TestNet`), the clients of a fault
 * scenario and its history (history.ts). Host i runs hub `h<i>` on fixed ports inside its
 * namespace (MQTT 1883, admin 8080, gossip 7946, inter-hub 7947), so a hub restarted on its host
 * comes back at the same addresses. The test process reaches every host over the control link
 * (10.99.S.254), which the faults set with iptables leave alone.
 *
 * `cleanup()` (afterAll) kills every hub (SIGCONT first), removes the namespaces and the data
 * directories; a process exit handler kills leftover hubs too, if the test process dies first.
 */
export const ADMIN_TOKEN = 'fault-suite-token'
const PORTS = { mqtt: 1883, admin: 8080, gossip: 7946, interHub: 7947 }
const live = new Set<SpawnedHub>()
process.once('exit', () => {
  for (const h of live) {
    try { h.child.kill('SIGCONT'); h.child.kill('SIGKILL') } catch { /* gone */ }
  }
})

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A /24 under 10.99 that no interface of this (root) namespace uses yet, tried from the pid's. */
function freeSubnet(): number {
  const used = execFileSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' })
  for (let i = 0; i < 254; i++) {
    const s = (process.pid + i) % 254
    if (!used.includes(` 10.99.${s}.`)) return s
  }
  throw new Error('no free 10.99.x.0/24 for test hosts')
}

export interface FaultRingOptions {
  /** Test hosts to make (hubs may be started on fewer). */
  hosts: number
  /** Hosts whose hubs start at once and form the ring (default: all). */
  initial?: number
  /** Failure-detection profile (default `edge`). */
  profile?: 'edge' | 'lan'
  /** More hub flags, for every hub. */
  args?: readonly string[]
}

export class FaultRing {
  readonly history = new History()
  readonly hubs = new Map<number, SpawnedHub>()
  readonly #dirs = new Map<number, { path: string, remove: () => void }>()
  readonly #clients: MqttClient[] = []
  readonly #loads: Qos1Load[] = []
  readonly #stopped = new Set<SpawnedHub>()
  #net: TestNet | undefined

  private constructor(private readonly options: FaultRingOptions) {}

  /** Makes the hosts, starts the first `initial` hubs (h1 first, the others joining it) and waits for one ring. */
  static async start(options: FaultRingOptions): Promise<FaultRing> {
    const why = TestNet.unavailable()
    if (why) throw new Error(`cannot make test hosts: ${why}`)
    const ring = new FaultRing(options)
    ring.#net = TestNet.up(`fs${process.pid % 100_000}`, options.hosts, freeSubnet())
    const initial = Array.from({ length: options.initial ?? options.hosts }, (_, i) => i + 1)
    try {
      await ring.spawn(1)
      await Promise.all(initial.slice(1).map((i) => ring.spawn(i)))
      await ring.waitWhole(initial, 20_000)
    } catch (err) {
      await ring.cleanup() // a hub that did not start must not leave namespaces behind
      throw err
    }
    return ring
  }

  get net(): TestNet { return this.#net as TestNet }
  id(i: number): string { return `h${i}` }
  admin(i: number): string { return `${this.net.address(i)}:${PORTS.admin}` }
  url(i: number): string { return `mqtt://${this.net.address(i)}:${PORTS.mqtt}` }
  hub(i: number): SpawnedHub { return this.hubs.get(i) as SpawnedHub }

  /** Starts (or restarts, on its data directory) the hub of host `i`, joining h1 (or h2 for h1 itself). */
  async spawn(i: number): Promise<SpawnedHub> {
    const dir = this.#dirs.get(i) ?? tempDir('ringhub-fault-')
    this.#dirs.set(i, dir)
    const seeds = [1, 2].filter((s) => s !== i && s <= this.options.hosts).map((s) => `${this.net.address(s)}:${PORTS.gossip}`)
    const hub = await spawnHub([
      '--id', this.id(i), '--data', dir.path, '--allow-anonymous', '--profile', this.options.profile ?? 'edge', '--admin-token', ADMIN_TOKEN,
      '--host', '0.0.0.0', '--advertise', this.net.address(i), '--mqtt', String(PORTS.mqtt), '--admin', String(PORTS.admin),
      '--gossip', String(PORTS.gossip), '--inter-hub', String(PORTS.interHub),
      ...(i === 1 ? [] : ['--join', seeds.join(',')]),
      ...(this.options.args ?? []),
    ], { wrap: this.net.wrap(i), deadlineMs: 20_000 })
    live.add(hub)
    void hub.exited.then(() => live.delete(hub))
    this.hubs.set(i, hub)
    return hub
  }

  /** Sends `signal` to hub i; for SIGKILL/SIGTERM resolves once it has exited. */
  async signal(i: number, signal: NodeJS.Signals): Promise<void> {
    const hub = this.hub(i)
    if (signal === 'SIGKILL' || signal === 'SIGTERM') this.#stopped.add(hub)
    hub.child.kill(signal)
    if (signal === 'SIGKILL' || signal === 'SIGTERM') await hub.exited
  }

  view(i: number): Promise<RingView> { return ringOf(this.admin(i), ADMIN_TOKEN) }
  views(hosts: readonly number[]): Promise<RingView[]> { return Promise.all(hosts.map((i) => this.view(i))) }

  /** True when the hubs of `hosts` all see exactly those hubs alive, with one checksum. */
  async whole(hosts: readonly number[]): Promise<boolean> {
    return oneRing(await this.views(hosts), hosts.map((i) => this.id(i)))
  }

  async waitWhole(hosts: readonly number[], deadlineMs: number): Promise<number> {
    const from = performance.now()
    await waitFor(() => this.whole(hosts), `one ring of ${hosts.map((i) => this.id(i)).join(', ')}`, deadlineMs, 50)
    return performance.now() - from
  }

  /** Ms from `fromMs` until every hub of `observers` holds hub `i` in `state` (polled every 20 ms). */
  async waitState(observers: readonly number[], i: number, state: string, fromMs: number, deadlineMs: number): Promise<number> {
    await waitFor(async () => (await this.views(observers)).every((v) => stateIn(v, this.id(i)) === state), `${this.id(i)} ${state} for ${observers.map((o) => this.id(o)).join(', ')}`, deadlineMs, 20)
    return performance.now() - fromMs
  }

  /** A membership event counter summed over hubs (`memberDied`, `memberSuspected`, `selfRefuted`, ...). */
  async events(hosts: readonly number[], event: string): Promise<number> {
    return (await Promise.all(hosts.map((i) => counter(this.admin(i), 'ringhub_membership_events_total', `event="${event}"`)))).reduce((a, b) => a + b, 0)
  }

  /** The port every hub's router link listens on (each on its own host). */
  get interHubPort(): number { return PORTS.interHub }

  /** The router links hub i's admin API reports down, as `h1>h2` (from the hub that holds it). */
  linksDown(i: number): Promise<string[]> { return linksDownOf(this.admin(i), ADMIN_TOKEN) }

  /** An inter-hub connection counter of hub i (`linked`, `silent`, ...). */
  linkEvents(i: number, event: string): Promise<number> {
    return counter(this.admin(i), 'ringhub_interhub_connections_total', `event="${event}"`)
  }

  /** A router event counter of hub i (`sequenced`, `refusedNotOwner`, ...). */
  routerEvents(i: number, event: string): Promise<number> {
    return counter(this.admin(i), 'ringhub_router_events_total', `event="${event}"`)
  }

  /**
   * A clean-session subscriber to `devices/#` at QoS 1 on hub i, recorded in the history as
   * `name` (default `sub@h<i>`); resolves with the SUBACK time.
   */
  async subscribe(i: number, name = `sub@${this.id(i)}`): Promise<number> {
    const client = await connect(this.url(i), { clientId: `${name}-${process.pid}`, clean: true })
    client.on('error', () => { /* a killed hub: 'close' follows */ })
    this.#clients.push(client)
    this.history.subscriber(name)
    client.on('message', (_topic, payload) => this.history.deliver(name, payload.toString()))
    await client.subscribeAsync('devices/#', { qos: 1 })
    return performance.now()
  }

  /**
   * QoS 1 load on `keys`, dealt round robin over `connections` publisher connections per hub of
   * `on`; every publish and acknowledgement goes into the history (client = the hub's id).
   */
  async load(opts: { on: readonly number[], keys: readonly string[], ratePerSec: number, connections?: number, keyWindow?: number, ackTimeoutMs?: number }): Promise<Qos1Load> {
    const urls = opts.on.flatMap((i) => Array.from({ length: opts.connections ?? 2 }, () => this.url(i)))
    const clientOf = new Map(opts.on.map((i) => [this.url(i), this.id(i)]))
    const load = new Qos1Load({
      publishers: urls.map((url, c) => ({ url, keys: opts.keys.filter((_, k) => k % urls.length === c) })),
      ratePerSec: opts.ratePerSec, keyWindow: opts.keyWindow ?? 5, ackTimeoutMs: opts.ackTimeoutMs ?? 30_000, rampMs: 500,
    })
    load.onSend = (payload, m, url) => { this.history.attempt(payload, clientOf.get(url) ?? url, m.sentMs) }
    load.onAck = (m) => this.history.ack(`${m.key}:${m.n}`, m.ackedMs)
    this.#loads.push(load)
    await load.start()
    return load
  }

  /**
   * Owner of each key as hub i's view has it (the hubs that own keys: role hub, alive or suspect,
   * as `hub/src/ring/ring.ts` counts them).
   */
  async owners(i: number, keys: readonly string[]): Promise<Map<string, string>> {
    const ring = ownerRing(await this.view(i))
    return new Map(keys.map((k) => [k, ring.ownerOf(k) as string]))
  }

  /**
   * Acknowledged messages of `keys` that the key's owner's log (asked through hub `via`, paged
   * through `GET /api/v1/keys/messages`) does not hold: what a resume could not give back. (Before
   * the owner's oldest entry the read also takes the other hubs' logs, `Router.logSince`: what the
   * owner lacks only at the start of its log is found there, as a resume finds it. A hole after
   * its oldest entry is never filled from elsewhere, so such a loss still counts.)
   */
  async missingFromOwnerLogs(via: number, keys: readonly string[]): Promise<string[]> {
    const ackedByKey = new Map<string, string[]>()
    for (const a of this.history.acked) {
      const list = ackedByKey.get(a.key)
      if (list) list.push(a.id)
      else ackedByKey.set(a.key, [a.id])
    }
    const missing: string[] = []
    for (const key of keys) {
      const want = ackedByKey.get(key) ?? []
      if (want.length === 0) continue
      const logged = new Set<string>()
      let since = '0:0'
      for (let page = 0; page < 100; page++) {
        const res = await fetch(`http://${this.admin(via)}/api/v1/keys/messages?key=${encodeURIComponent(key)}&since=${since}&limit=1000`,
          { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(10_000) })
        if (!res.ok) throw new Error(`log of ${key} via ${this.id(via)}: ${res.status} ${await res.text()}`)
        const body = await res.json() as { messages: Array<{ text?: string }>, next?: { epoch: number, seq: number } | null }
        for (const m of body.messages) if (m.text !== undefined) logged.add(m.text)
        if (body.messages.length < 1000 || !body.next) break
        since = `${body.next.epoch}:${body.next.seq}`
      }
      for (const id of want) if (!logged.has(id)) missing.push(id)
    }
    return missing
  }

  /** Waits (up to `deadlineMs`) for every subscriber to hold what it must; resolves either way. */
  async settle(mustHave?: Parameters<History['complete']>[0], deadlineMs = 15_000): Promise<void> {
    await waitFor(() => this.history.complete(mustHave), 'every acknowledged message at its subscribers', deadlineMs, 100).catch(() => undefined)
  }

  /** Stops the loads (waiting up to `settleMs` for their last acknowledgements). */
  async stopLoads(settleMs = 10_000): Promise<void> {
    await Promise.all(this.#loads.map((l) => l.stop(settleMs)))
  }

  /** Hubs that exited without the test stopping them, with the end of their output. */
  crashed(): string[] {
    return [...this.hubs.values()].filter((h) => !this.#stopped.has(h) && (h.child.exitCode !== null || (h.child.signalCode !== null && h.child.signalCode !== 'SIGKILL')))
      .map((h) => `exit ${h.child.exitCode ?? h.child.signalCode}:\n  ${h.output.slice(-30).join('\n  ')}`)
  }

  async cleanup(): Promise<void> {
    for (const c of this.crashed()) process.stdout.write(`[faults] a hub exited on its own: ${c}\n`)
    await keepEvidence(this, this.hubs)
    for (const l of this.#loads) await l.close().catch(() => undefined)
    await close(...this.#clients).catch(() => undefined)
    for (const h of this.hubs.values()) {
      if (h.child.exitCode !== null || h.child.signalCode !== null) continue
      h.child.kill('SIGCONT')
      h.child.kill('SIGKILL')
      await h.exited
    }
    this.#net?.heal()
    this.#net?.down()
    const evidence = process.env.RINGHUB_FAULT_LOGS
    for (const [i, d] of this.#dirs) {
      if (evidence) cpSync(d.path, join(evidence, `${this.id(i)}-data`), { recursive: true })
      d.remove()
    }
  }
}

/**
 * With `RINGHUB_FAULT_LOGS=<dir>`, each hub's output and last /metrics go to `<dir>/<id>.log`
 * and `<dir>/<id>.metrics` before the hubs are stopped, and its data directory to
 * `<dir>/<id>-data` after: what a failed scenario is debugged from.
 */
async function keepEvidence(ring: FaultRing, hubs: ReadonlyMap<number, SpawnedHub>): Promise<void> {
  const dir = process.env.RINGHUB_FAULT_LOGS
  if (!dir) return
  mkdirSync(dir, { recursive: true })
  for (const [i, h] of hubs) {
    writeFileSync(join(dir, `${ring.id(i)}.log`), h.output.join('\n') + '\n')
    const metrics = await fetch(`http://${ring.admin(i)}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(2_000) })
      .then((r) => r.text(), (err: unknown) => `unreachable: ${String(err)}`)
    writeFileSync(join(dir, `${ring.id(i)}.metrics`), metrics)
  }
  process.stdout.write(`[faults] hub logs and metrics in ${dir}\n`)
}

/** The ring a view routes by: its key-owning members (role hub, alive or suspect). */
export function ownerRing(view: RingView): Ring {
  return new Ring(view.members.filter((m) => m.meta.role === 'hub' && (m.state === 'alive' || m.state === 'suspect')).map((m) => m.id))
}

/**
 * Polls the views of `hosts` every `everyMs` and counts, per key, how often the owner each view
 * names changes (the largest count over views is a key's ownership changes).
 */
export class OwnershipWatch {
  readonly #last = new Map<number, Map<string, string>>()
  readonly #changes = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor(private readonly ring: FaultRing, private readonly hosts: readonly number[], private readonly keys: readonly string[]) {}

  async start(everyMs = 100): Promise<void> {
    await this.#poll()
    this.#timer = setInterval(() => { void this.#poll() }, everyMs)
  }

  stop(): void { clearInterval(this.#timer) }

  /** The largest number of owner changes any one view saw for any one key. */
  get maxChanges(): number { return Math.max(0, ...this.#changes.values()) }

  async #poll(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const perHost = new Map<number, Map<string, number>>()
      await Promise.all(this.hosts.map(async (i) => {
        let owners: Map<string, string>
        try { owners = await this.ring.owners(i, this.keys) } catch { return } // unreachable now
        const before = this.#last.get(i)
        this.#last.set(i, owners)
        if (!before) return
        const counts = new Map<string, number>()
        for (const [k, o] of owners) if (before.get(k) !== o) counts.set(k, 1)
        perHost.set(i, counts)
      }))
      // A key's changes: counted per view, the most of any view kept.
      for (const [i, counts] of perHost) {
        for (const k of counts.keys()) {
          const key = `${i}|${k}`
          this.#perView.set(key, (this.#perView.get(key) ?? 0) + 1)
          this.#changes.set(k, Math.max(this.#changes.get(k) ?? 0, this.#perView.get(key) as number))
        }
      }
    } finally {
      this.#busy = false
    }
  }

  readonly #perView = new Map<string, number>()
}
