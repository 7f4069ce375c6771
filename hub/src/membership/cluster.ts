import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { Rng } from '../base/rng.js'
import type { RingView } from '../contract/ring-view.js'
import { OwnershipTracker, type OwnershipChanged } from '../ring/ownership-tracker.js'
import { keyOf } from '../ring/keys.js'
import type { NodeState } from '../store/node-state.js'
import type { Transport } from '../transport/transport.js'
import { Keyring } from './keyring.js'
import type { MemberAddresses, MemberMeta } from './member.js'
import { PROFILES, type ProfileName } from './profiles.js'
import { PacketSecurity } from './security.js'
import { SwimNode } from './swim-node.js'

export interface ClusterOptions {
  id: string
  addresses: Omit<MemberAddresses, 'gossip'>
  meta: MemberMeta
  profile: ProfileName
  seeds: readonly string[]
  /** Base64 AES-256 keys; the first encrypts. Empty: plaintext. */
  gossipKeys: readonly string[]
  clusterLabel: string | undefined
}

const INCARNATION = 'incarnation'
/** Join retries back off from 1 s to 30 s (Consul's retry_join interval), with jitter. */
const JOIN_RETRY_MIN_MS = 1_000
const JOIN_RETRY_MAX_MS = 30_000

/**
 * This hub's place in the ring: the SWIM member, the ring it implies, the incarnation kept
 * across restarts, and joining through seeds with retry. Emits `ownershipChanged` through
 * `tracker`.
 */
export class Cluster {
  readonly swim: SwimNode
  readonly tracker = new OwnershipTracker()
  /** Membership events seen since start, by name (metrics, tests). */
  readonly events: Record<string, number> = {}
  #joinTimer: TimerHandle | undefined
  #stopped = false

  private constructor(private readonly deps: { options: ClusterOptions, transport: Transport, clock: Clock, log: Logger, state: NodeState }, swim: SwimNode) {
    this.swim = swim
  }

  static start(deps: { options: ClusterOptions, transport: Transport, clock: Clock, rng: Rng, log: Logger, state: NodeState }): Cluster {
    const { options, transport, clock, rng, state } = deps
    const log = deps.log.child({ component: 'membership' })
    const keys = options.gossipKeys.map((k) => Buffer.from(k, 'base64'))
    const security = new PacketSecurity({ label: options.clusterLabel, keyring: keys.length > 0 ? new Keyring(keys, keys[0]) : undefined })
    const swim = new SwimNode({
      self: { id: options.id, incarnation: state.get(INCARNATION) ?? 0, state: 'alive', stateChangeMs: clock.now(), addresses: { ...options.addresses, gossip: transport.address }, meta: options.meta },
      transport, clock, rng, log, security, profile: PROFILES[options.profile],
    })
    const cluster = new Cluster({ ...deps, log }, swim)
    const refresh = (): void => { cluster.tracker.update(swim.members) }
    for (const event of ['memberJoined', 'memberUpdated', 'memberSuspected', 'memberDied', 'memberLeft', 'selfRefuted', 'addressConflicted'] as const) {
      swim.on(event, () => { cluster.events[event] = (cluster.events[event] ?? 0) + 1 })
      if (event !== 'selfRefuted' && event !== 'addressConflicted') swim.on(event, refresh)
    }
    // A restarted hub must come back above every incarnation it ever used (SWIM refutation).
    const persist = (): void => { void state.set(INCARNATION, swim.self.incarnation).catch((err: unknown) => log.error({ err }, 'cannot persist incarnation')) }
    swim.on('selfRefuted', persist)
    swim.start()
    persist()
    refresh()
    log.info({ address: transport.address, incarnation: swim.self.incarnation, profile: options.profile }, 'membership started')
    cluster.#joinWithRetry(0)
    return cluster
  }

  /** The owner and replicas of a topic's key; `key` null for topics that stay local ($...). */
  ownerOf(topic: string, replicas = 2): { key: string | null, owner: string | undefined, replicas: string[] } {
    const key = keyOf(topic)
    if (key === null) return { key, owner: this.swim.self.id, replicas: [this.swim.self.id] }
    const ring = this.tracker.ring
    return { key, owner: ring.ownerOf(key), replicas: ring.replicasOf(key, replicas) }
  }

  /** `GET /api/ring`. */
  view(): RingView {
    const ring = this.tracker.ring
    const members = this.swim.members
      .map((m) => ({ id: m.id, state: m.state, incarnation: m.incarnation, addresses: m.addresses, meta: { ...m.meta }, share: ring.has(m.id) ? ring.shareOf(m.id) : 0 }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return { apiVersion: 1, self: this.swim.self.id, checksum: ring.checksum, members }
  }

  onOwnershipChanged(listener: (change: OwnershipChanged) => void): void { this.tracker.on('ownershipChanged', listener) }

  /** Graceful leave (the others learn at once instead of suspecting us), then stop. */
  async stop(leaveTimeoutMs = 1_000): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.deps.clock.clearTimeout(this.#joinTimer)
    await this.swim.leave(leaveTimeoutMs)
    await this.deps.transport.close()
  }

  #joinWithRetry(attempt: number): void {
    const seeds = this.deps.options.seeds
    if (seeds.length === 0 || this.#stopped) return
    void this.swim.join(seeds).then((reached) => {
      if (this.#stopped) return
      if (reached > 0) {
        this.deps.log.info({ seeds, reached }, 'joined the ring')
        return
      }
      const delayMs = Math.min(JOIN_RETRY_MAX_MS, JOIN_RETRY_MIN_MS * 2 ** attempt)
      this.deps.log.warn({ seeds, attempt, retryInMs: delayMs }, 'no seed answered; retrying')
      this.#joinTimer = this.deps.clock.setTimeout(() => this.#joinWithRetry(attempt + 1), delayMs)
      this.#joinTimer.unref()
    })
  }
}
