/**
 * An observer member: joins SWIM like a hub (probes, gossip, push-pull, graceful leave) but
 * announces `role: observer`, so `Ring.of` leaves it out and it owns no keys (DESIGN.md §1). The
 * desktop app embeds one to see the ring first-hand instead of through one hub's admin API.
 *
 * It must load without native modules (Electron's main process has Node's ABI only for pure
 * JavaScript): it imports membership, transport and ring, never store/ (better-sqlite3) nor
 * anything of the agent (serialport). test/integration/observer-node.test.ts runs it in a
 * process where those modules throw on load.
 */
import { EventEmitter } from 'node:events'
import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import { randomRng, type Rng } from '../base/rng.js'
import type { RingView } from '../contract/ring-view.js'
import { advertisedHost } from '../hub-addresses.js'
import { Cluster } from '../membership/cluster.js'
import type { ProfileName } from '../membership/profiles.js'
import { UdpTcpTransport } from '../transport/udp-tcp-transport.js'
import { RINGHUB_VERSION } from '../version.js'
import { MemoryIncarnation } from './memory-incarnation.js'

export interface ObserverNodeOptions {
  /** Member id, unique in the ring (at most 128 characters, the wire limit). */
  id: string
  /** Gossip addresses (`host:port`) of hubs to join through; retried with backoff until one answers. */
  seeds: readonly string[]
  /** Base64 AES-256 gossip keys of the ring, the first encrypting; empty or absent: plaintext. */
  gossipKeys?: readonly string[]
  /** The ring's cluster label, if it uses one; packets with another label are dropped. */
  clusterLabel?: string
  /** Bind address of the gossip socket (UDP and TCP on one port). */
  host: string
  /** Gossip port; 0 picks a free one (the usual choice: hubs learn it from our alive message). */
  port: number
  /** Address hubs should use to reach us (NAT); default: the bound one, or for a wildcard bind
   *  the machine's first non-internal IPv4 address, as hubs do. */
  advertise?: string
  /** Gossip timing; must match the ring's (default `lan`, as hubs). */
  profile?: ProfileName
  /** Start above this incarnation (a previous run's `incarnation`); see `MemoryIncarnation`. */
  incarnation?: number
  clock: Clock
  log: Logger
  /** Randomness for probe order and jitter; unpredictable by default. */
  rng?: Rng
}

/** Events of a running observer, in the past tense (STYLE §10). */
export interface ObserverNodeEvents {
  /** Membership changed (join, suspicion, death, leave, new metadata): the new view. */
  changed: [RingView]
}

export interface ObserverNode {
  readonly id: string
  /** The gossip address hubs reach us at. */
  readonly address: string
  /** The incarnation in use; pass it to the next `startObserverNode` of the same id. */
  readonly incarnation: number
  /** The ring as this observer sees it; `self` is the observer's id. */
  view(): RingView
  on<K extends keyof ObserverNodeEvents>(event: K, listener: (...args: ObserverNodeEvents[K]) => void): this
  off<K extends keyof ObserverNodeEvents>(event: K, listener: (...args: ObserverNodeEvents[K]) => void): this
  /** Graceful leave (hubs mark us `left` at once), then closes the sockets. Idempotent. */
  stop(leaveTimeoutMs?: number): Promise<void>
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::'])

/** Binds the gossip socket, starts SWIM as an observer and joins through `seeds`. */
export async function startObserverNode(options: ObserverNodeOptions): Promise<ObserverNode> {
  const { clock } = options
  const log = options.log.child({ observer: options.id })
  const advertise = options.advertise ?? (WILDCARD_HOSTS.has(options.host) ? advertisedHost(options.host, undefined) : undefined)
  const transport = await UdpTcpTransport.start({ host: options.host, port: options.port, ...(advertise === undefined ? {} : { advertise }), clock, log })
  const state = new MemoryIncarnation(clock, options.incarnation)
  let cluster: Cluster
  try {
    cluster = Cluster.start({
      options: {
        id: options.id,
        // An observer runs no broker, no admin server and no router: it gossips its address only.
        addresses: {},
        meta: { version: RINGHUB_VERSION, role: 'observer' },
        profile: options.profile ?? 'lan',
        seeds: options.seeds,
        gossipKeys: options.gossipKeys ?? [],
        clusterLabel: options.clusterLabel,
      },
      transport, clock, rng: options.rng ?? randomRng(), log, state,
    })
  } catch (err) {
    await transport.close()
    throw err
  }
  return new RunningObserver(options.id, transport.address, cluster)
}

class RunningObserver extends EventEmitter<ObserverNodeEvents> implements ObserverNode {
  #stopped: Promise<void> | undefined

  constructor(readonly id: string, readonly address: string, private readonly cluster: Cluster) {
    super()
    // Cluster's own listeners, registered first, have rebuilt the ring by the time these run.
    for (const event of ['memberJoined', 'memberUpdated', 'memberSuspected', 'memberDied', 'memberLeft'] as const) {
      cluster.swim.on(event, () => { if (!this.#stopped) this.emit('changed', this.view()) })
    }
  }

  get incarnation(): number { return this.cluster.swim.self.incarnation }

  view(): RingView { return this.cluster.view() }

  stop(leaveTimeoutMs = 1_000): Promise<void> {
    this.#stopped ??= this.cluster.stop(leaveTimeoutMs)
    return this.#stopped
  }
}
