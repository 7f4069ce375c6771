import type { Logger } from '../base/log.js'
import { keyOf } from '../ring/keys.js'
import type { RouterReply, WillGuardRequest, WillMessage } from '../routing/messages.js'
import type { PeerBus } from '../routing/peer-bus.js'

/** Hubs that hold a copy of each will besides the client's own hub. */
export const GUARDIANS = 2
/** Deadline of a guard request, ms. */
const GUARD_TIMEOUT_MS = 2_000

export interface WillGuardStats {
  /** Wills of this hub's clients given to guardians (acknowledged by at least one). */
  guarded: number
  guardFailures: number
  /** Wills held here for other hubs' clients, right now. */
  held: number
  /** Wills published here because the client's hub died or restarted. */
  published: number
}

export interface WillPacket { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }

export interface WillGuardDeps {
  self: string
  /** This run of the hub (the inter-hub link's boot id). */
  boot: string
  bus: Pick<PeerBus, 'send' | 'request'>
  router: {
    serve(types: readonly ['will-guard'], handler: (from: string, r: WillGuardRequest) => Promise<RouterReply>): void
    listen(types: ReadonlyArray<WillMessage['t']>, handler: (from: string, m: WillMessage) => void): void
  }
  /** Up to `n` hubs for `key`, the owner first, then its successors on the ring. */
  replicasOf(key: string, n: number): string[]
  /** Whether the hub is in the ring (alive or suspect). */
  isMember(hub: string): boolean
  keyDepth: number
  /** Publishes a will through the ring (as the dead client's hub would have). */
  publish(will: WillPacket): Promise<void>
  /** The will of a connected client is now guarded (a restart of this hub must not publish it again). */
  markGuarded(clientId: string): Promise<void>
  log: Logger
}

interface HeldWill { boot: string, guardians: string[], will: WillPacket }

/**
 * Wills survive the death of the client's hub (DESIGN §2; issue 4: "a will of a device on a hub
 * that is killed reaches subscribers on the other hubs"). The hub a client connects to gives the
 * client's will to two guardians, the first hubs on the ring for the will topic's key other than
 * itself, and releases it when the client goes (the hub publishes a will that is due itself).
 * When a hub dies, the first of each will's guardians that is still in the ring publishes it;
 * when a hub restarts (a `will-sync` with a new boot, or a guard request from it), the wills of its
 * earlier run are due too. The restarted hub publishes only the wills no guardian acknowledged.
 *
 * Wills of `$` topics stay local (their subscribers are on the same hub), as before.
 */
export class WillGuard {
  readonly stats: WillGuardStats = { guarded: 0, guardFailures: 0, held: 0, published: 0 }
  /** Wills held for other hubs: hub → client id → will. */
  readonly #held = new Map<string, Map<string, HeldWill>>()
  /** Guardians asked for this hub's clients: client id → guardians. */
  readonly #asked = new Map<string, string[]>()

  constructor(private readonly deps: WillGuardDeps) {
    deps.router.serve(['will-guard'], (from, r) => Promise.resolve(this.#hold(from, r)))
    deps.router.listen(['will-release', 'will-sync'], (from, m) => this.#onMessage(from, m))
  }

  /** A client with a will connected here: give the will to its guardians. */
  async clientConnected(clientId: string, will: WillPacket): Promise<void> {
    const key = keyOf(will.topic, this.deps.keyDepth)
    if (key === null) return
    const guardians = this.deps.replicasOf(key, GUARDIANS + 1).filter((hub) => hub !== this.deps.self).slice(0, GUARDIANS)
    if (guardians.length === 0) return
    this.#asked.set(clientId, guardians)
    const request: WillGuardRequest = { t: 'will-guard', clientId, boot: this.deps.boot, guardians, ...will }
    const acks = await Promise.all(guardians.map(async (guardian) => {
      try {
        const reply = await this.deps.bus.request(guardian, request, GUARD_TIMEOUT_MS)
        return reply.t === 'ok'
      } catch (err) {
        this.deps.log.warn({ err, guardian, clientId }, 'a guardian did not take a will')
        return false
      }
    }))
    if (!acks.some(Boolean)) {
      this.stats.guardFailures++
      return
    }
    this.stats.guarded++
    if (this.#asked.get(clientId) === guardians) await this.deps.markGuarded(clientId)
  }

  /** A client of this hub is gone (its will, if due, was published here): the guardians drop it. */
  clientGone(clientId: string): void {
    const guardians = this.#asked.get(clientId)
    if (!guardians) return
    this.#asked.delete(clientId)
    for (const guardian of guardians) this.deps.bus.send(guardian, { t: 'will-release', clientId })
  }

  /** A peer joined (or this hub started): it learns this run's boot, so wills of an earlier run of this hub fall due. */
  peerJoined(peer: string): void {
    this.deps.bus.send(peer, { t: 'will-sync', boot: this.deps.boot })
  }

  /** A hub died: the wills it gave are due where this hub is their first guardian still in the ring. */
  hubDied(hub: string): void {
    const wills = this.#held.get(hub)
    if (!wills) return
    for (const [clientId, held] of wills) {
      const first = held.guardians.find((g) => g === this.deps.self || (g !== hub && this.deps.isMember(g)))
      if (first === this.deps.self) this.#publish(hub, clientId, held)
    }
    this.stats.held -= wills.size
    this.#held.delete(hub)
  }

  /** A hub left gracefully: it published its clients' wills itself before stopping. */
  hubLeft(hub: string): void {
    this.stats.held -= this.#held.get(hub)?.size ?? 0
    this.#held.delete(hub)
  }

  #hold(from: string, r: WillGuardRequest): RouterReply {
    this.#dueFromEarlierRuns(from, r.boot)
    let wills = this.#held.get(from)
    if (!wills) this.#held.set(from, wills = new Map())
    if (!wills.has(r.clientId)) this.stats.held++
    wills.set(r.clientId, { boot: r.boot, guardians: r.guardians, will: { topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, retain: r.retain } })
    return { t: 'ok' }
  }

  #onMessage(from: string, m: WillMessage): void {
    if (m.t === 'will-sync') {
      this.#dueFromEarlierRuns(from, m.boot)
      return
    }
    if (this.#held.get(from)?.delete(m.clientId) === true) this.stats.held--
  }

  /** `hub` now runs as `boot`: the wills of its earlier runs are due (this guardian publishes those it is first for). */
  #dueFromEarlierRuns(hub: string, boot: string): void {
    const wills = this.#held.get(hub)
    if (!wills) return
    for (const [clientId, held] of wills) {
      if (held.boot === boot) continue
      wills.delete(clientId)
      this.stats.held--
      const first = held.guardians.find((g) => g === this.deps.self || this.deps.isMember(g))
      if (first === this.deps.self) this.#publish(hub, clientId, held)
    }
  }

  #publish(hub: string, clientId: string, held: HeldWill): void {
    this.stats.published++
    this.deps.log.info({ hub, clientId, topic: held.will.topic }, 'publishing the will of a client whose hub is gone')
    this.deps.publish(held.will).catch((err: unknown) => this.deps.log.warn({ err, clientId }, 'will not published'))
  }
}
