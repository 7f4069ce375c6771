import type { Clock, TimerHandle } from '../base/clock.js'
import { ConfigError } from '../base/errors.js'
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

/**
 * Where the incarnation survives restarts: a hub's SQLite `NodeState`, or an observer's memory
 * (hub/src/observer), which needs no native module.
 */
export type IncarnationState = Pick<NodeState, 'get' | 'set'>

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

  private constructor(
    private readonly deps: { options: ClusterOptions, transport: Transport, clock: Clock, log: Logger, state: IncarnationState },
    swim: SwimNode,
    /** The gossip keyring in use; undefined when gossip is plaintext. */
    private readonly keyring: Keyring | undefined,
  ) {
    this.swim = swim
  }

  static start(deps: { options: ClusterOptions, transport: Transport, clock: Clock, rng: Rng, log: Logger, state: IncarnationState }): Cluster {
    const { options, transport, clock, rng, state } = deps
    const log = deps.log.child({ component: 'membership' })
    const keys = options.gossipKeys.map((k) => Buffer.from(k, 'base64'))
    const keyring = keys.length > 0 ? new Keyring(keys, keys[0]) : undefined
    const security = new PacketSecurity({ label: options.clusterLabel, keyring })
    const swim = new SwimNode({
      self: { id: options.id, incarnation: state.get(INCARNATION) ?? 0, state: 'alive', stateChangeMs: clock.monotonicMs(), addresses: { ...options.addresses, gossip: transport.address }, meta: options.meta },
      transport, clock, rng, log, security, profile: PROFILES[options.profile],
    })
    const cluster = new Cluster({ ...deps, log }, swim, keyring)
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

  /** The gossip keys in use, primary first (none: plaintext). Also what the inter-hub link checks. */
  gossipKeys(): Uint8Array[] { return this.keyring?.keys ?? [] }

  /**
   * Makes the keyring hold exactly `gossipKeys` (base64), the first one encrypting: installs the
   * new ones, uses the first, then removes the rest, in that order so that at no point is a key
   * in use that this hub cannot decrypt. One step of the rotation in keyring.ts per call: the
   * operator runs each step on every hub before the next (docs/membership.md). Switching
   * between plaintext and encrypted gossip needs a restart (every packet in flight would fail
   * authentication on one side): refused with a `ConfigError`.
   */
  useGossipKeys(gossipKeys: readonly string[]): { installed: number, removed: number, primaryChanged: boolean } {
    const keyring = this.keyring
    if ((keyring === undefined) !== (gossipKeys.length === 0)) {
      throw new ConfigError('gossipKeys', 'switching gossip encryption on or off needs a restart; rotate keys instead')
    }
    if (!keyring) return { installed: 0, removed: 0, primaryChanged: false }
    const wanted = gossipKeys.map((k) => Buffer.from(k, 'base64'))
    const held = keyring.keys
    const has = (list: readonly Uint8Array[], key: Uint8Array): boolean => list.some((k) => Buffer.compare(k, key) === 0)
    const primaryBefore = keyring.primary
    let installed = 0
    for (const key of wanted) if (!has(held, key)) { keyring.install(key); installed++ }
    keyring.use(wanted[0] as Uint8Array)
    let removed = 0
    for (const key of held) if (!has(wanted, key)) { keyring.remove(key); removed++ }
    const result = { installed, removed, primaryChanged: Buffer.compare(primaryBefore, keyring.primary) !== 0 }
    this.deps.log.info(result, 'gossip keyring changed')
    return result
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
