import { EventEmitter } from 'node:events'
import type { Clock } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { Awareness } from './awareness.js'
import { AWARENESS_DELTA } from './awareness.js'
import type { BroadcastQueue } from './broadcast-queue.js'
import { encodePacket } from './codec.js'
import type { Member, MemberAddresses, MemberMeta } from './member.js'
import { versionOf, type AliveMessage, type DeadMessage, type SuspectMessage } from './messages.js'
import { judge, mayMoveAddress } from './precedence.js'
import type { GossipProfile } from './profiles.js'
import { Suspicion, expectedConfirmations, suspicionBoundsMs } from './suspicion.js'

/** Typed membership events, in the past tense (STYLE §10). Each carries the member as now held. */
export interface MembershipEvents {
  memberJoined: [Member]
  memberUpdated: [Member]
  memberSuspected: [Member]
  memberDied: [Member]
  memberLeft: [Member]
  /** This hub was accused and raised its incarnation to refute (Lifeguard counts it): the new
   *  incarnation, and what it refuted (`dead`: others may have moved its keys meanwhile). */
  selfRefuted: [number, 'alive' | 'suspect' | 'dead']
  /** An alive claim for a member held at another gossip address was refused (`mayMoveAddress`):
   *  the member as held, and the address that claimed it. */
  addressConflicted: [Member, string]
}

/** What `MemberTable.forget` did: forgot a dead member, or why not. */
export type ForgetOutcome = 'forgotten' | 'already-left' | 'unknown' | 'self' | 'live'

interface Entry {
  member: Member
  suspicion: Suspicion | undefined
}

/**
 * What this hub knows about every member, changed only through `alive`, `suspect` and `dead`
 * news judged by the one precedence rule (`precedence.ts`). Handlers follow memberlist's order:
 * drop stale → confirm suspicion → refute if about us → apply → broadcast.
 */
export class MemberTable extends EventEmitter<MembershipEvents> {
  readonly #entries = new Map<string, Entry>()
  /** `liveCount`, kept up to date: read for every packet sent (the retransmit limit). */
  #live = 0
  /** `ids()`, rebuilt on first use after a member was added or removed. */
  #ids: readonly string[] | undefined
  #self: Member
  #leaving = false

  constructor(private readonly deps: {
    self: Member
    /** Known before start (see `SwimDeps.members`); a suspect is refused (no timer to restore). */
    members?: readonly Member[] | undefined
    clock: Clock
    log: Logger
    profile: GossipProfile
    broadcasts: BroadcastQueue
    awareness: Awareness
  }) {
    super()
    this.#self = { ...deps.self, state: 'alive' }
    this.#put(this.#self.id, { member: this.#self, suspicion: undefined })
    for (const m of deps.members ?? []) {
      if (m.state === 'suspect') throw new RangeError(`member ${m.id}: a suspect cannot be restored`)
      // Member records are never changed in place (every change puts a new one): shared safely.
      if (m.id !== this.#self.id) this.#put(m.id, { member: m, suspicion: undefined })
    }
  }

  get self(): Member { return this.#self }
  get(id: string): Member | undefined { return this.#entries.get(id)?.member }
  all(): Member[] { return [...this.#entries.values()].map((e) => e.member) }

  /** Ids of every member held (this hub included); the same array until one is added or
   *  removed, so random picks from it cost O(1) (every gossip round makes some). */
  ids(): readonly string[] {
    this.#ids ??= [...this.#entries.keys()]
    return this.#ids
  }

  /** Members that count for the retransmit limit and suspicion math: not dead, not left. */
  get liveCount(): number { return this.#live }

  /** Announces ourselves (at start, and after a metadata change) at a higher incarnation. */
  announceSelf(changes: { addresses?: MemberAddresses, meta?: MemberMeta } = {}): void {
    this.#self = { ...this.#self, ...changes, incarnation: this.#self.incarnation + 1, state: 'alive', stateChangeMs: this.deps.clock.monotonicMs() }
    this.#put(this.#self.id, { member: this.#self, suspicion: undefined })
    this.#broadcast(this.#self.id, this.aliveOf(this.#self))
  }

  /** Graceful leave: broadcast a dead message about ourselves (memberlist: from === node). */
  leave(onSent: () => void): void {
    this.#leaving = true
    this.#self = { ...this.#self, state: 'left', stateChangeMs: this.deps.clock.monotonicMs() }
    const message: DeadMessage = { type: 'dead', incarnation: this.#self.incarnation, node: this.#self.id, from: this.#self.id }
    this.deps.broadcasts.enqueue(this.#self.id, encodePacket(message), () => onSent())
  }

  /**
   * An operator forgets a member this hub holds dead (it crashed and is not coming back soon):
   * it counts as left here and, by gossip and push-pull, at every hub (a left on its behalf at
   * the incarnation it died with; a dead member takes a left, `precedence.ts` (**)). A hub's
   * acknowledgements wait for copies on `min(replicationFactor, hubs not left)` hubs, so a
   * two-hub ring whose other hub crashed goes on alone once it is forgotten. A member that is
   * alive or suspect here is refused: forgetting it would only make it refute (a flap). It comes
   * back as any member does, announcing itself at a newer incarnation.
   */
  forget(id: string): ForgetOutcome {
    if (id === this.#self.id) return 'self'
    const member = this.#entries.get(id)?.member
    if (!member) return 'unknown'
    if (member.state === 'left') return 'already-left'
    if (member.state !== 'dead') return 'live'
    this.applyDead({ type: 'dead', incarnation: member.incarnation, node: id, from: id })
    return 'forgotten'
  }

  aliveOf(m: Member): AliveMessage {
    return { type: 'alive', incarnation: m.incarnation, node: m.id, addresses: m.addresses, meta: m.meta }
  }

  applyAlive(msg: AliveMessage): void {
    if (msg.node === this.#self.id) {
      // Someone says we are alive at an incarnation at least ours with other data: a stale
      // announcement of ours, or an impostor; either way re-assert ourselves above it.
      if (msg.incarnation > this.#self.incarnation || (msg.incarnation === this.#self.incarnation && !sameIdentity(msg, this.#self))) {
        this.#refute(msg.incarnation, 'alive')
      }
      return
    }
    const entry = this.#entries.get(msg.node)
    if (judge(entry?.member, versionOf(msg)) !== 'apply') return
    if (entry && entry.member.addresses.gossip !== msg.addresses.gossip && !mayMoveAddress(entry.member, this.deps.clock.monotonicMs(), this.deps.profile.deadMemberReclaimMs)) {
      this.deps.log.warn({ member: msg.node, held: entry.member.addresses.gossip, claimed: msg.addresses.gossip, state: entry.member.state }, 'conflicting address for a member; claim refused')
      this.emit('addressConflicted', entry.member, msg.addresses.gossip)
      return
    }
    entry?.suspicion?.cancel()
    const before = entry?.member.state
    const member: Member = { id: msg.node, incarnation: msg.incarnation, state: 'alive', stateChangeMs: this.deps.clock.monotonicMs(), addresses: msg.addresses, meta: msg.meta }
    this.#put(msg.node, { member, suspicion: undefined })
    this.#broadcast(msg.node, msg)
    this.emit(before === undefined || before === 'dead' || before === 'left' ? 'memberJoined' : 'memberUpdated', member)
  }

  applySuspect(msg: SuspectMessage): void {
    if (msg.node === this.#self.id) {
      if (msg.incarnation >= this.#self.incarnation && !this.#leaving) this.#refute(msg.incarnation, 'suspect')
      return
    }
    const entry = this.#entries.get(msg.node)
    const verdict = judge(entry?.member, versionOf(msg))
    if (verdict === 'confirm') {
      // Lifeguard: an independent confirmation shortens the timer; pass on only new information.
      if (entry?.suspicion?.confirm(msg.from)) this.#broadcast(msg.node, msg)
      return
    }
    if (verdict !== 'apply' || !entry) return
    entry.suspicion?.cancel()
    const member: Member = { ...entry.member, state: 'suspect', incarnation: msg.incarnation, stateChangeMs: this.deps.clock.monotonicMs() }
    const { profile } = this.deps
    const n = this.liveCount
    const bounds = suspicionBoundsMs({ n, suspicionMult: profile.suspicionMult, probeIntervalMs: profile.probeIntervalMs, suspicionMaxTimeoutMult: profile.suspicionMaxTimeoutMult })
    const suspicion = new Suspicion({
      clock: this.deps.clock,
      from: msg.from,
      k: expectedConfirmations(profile.suspicionMult, n),
      minMs: bounds.minMs,
      maxMs: bounds.maxMs,
      onTimeout: (confirmations) => {
        this.deps.log.info({ member: msg.node, confirmations }, 'suspicion timed out; member declared dead')
        this.applyDead({ type: 'dead', incarnation: msg.incarnation, node: msg.node, from: this.#self.id })
      },
    })
    this.#put(msg.node, { member, suspicion })
    this.#broadcast(msg.node, msg)
    this.emit('memberSuspected', member)
  }

  applyDead(msg: DeadMessage): void {
    if (msg.node === this.#self.id) {
      if (!this.#leaving && msg.incarnation >= this.#self.incarnation) this.#refute(msg.incarnation, 'dead')
      return
    }
    const entry = this.#entries.get(msg.node)
    if (!entry || judge(entry.member, versionOf(msg)) !== 'apply') return
    entry.suspicion?.cancel()
    const state = versionOf(msg).state
    const member: Member = { ...entry.member, state, incarnation: msg.incarnation, stateChangeMs: this.deps.clock.monotonicMs() }
    this.#put(msg.node, { member, suspicion: undefined })
    this.#broadcast(msg.node, msg)
    this.emit(state === 'left' ? 'memberLeft' : 'memberDied', member)
  }

  /**
   * Forgets members that left more than `leftMs` ago, and dead ones after `deadMs` (kept longer,
   * so they can be retried after a partition heals; serf's reconnect).
   */
  reap(leftMs: number, deadMs: number): void {
    const now = this.deps.clock.monotonicMs()
    for (const [id, e] of this.#entries) {
      const age = now - e.member.stateChangeMs
      if ((e.member.state === 'left' && age > leftMs) || (e.member.state === 'dead' && age > deadMs)) {
        this.#entries.delete(id)
        this.#ids = undefined
      }
    }
  }

  /** Stops every suspicion timer (on shutdown). */
  stop(): void {
    for (const e of this.#entries.values()) e.suspicion?.cancel()
  }

  /** Every change of an entry goes through here (removal: `reap`), keeping the counts right. */
  #put(id: string, entry: Entry): void {
    const old = this.#entries.get(id)
    if (!old) this.#ids = undefined
    this.#live += (isLive(entry.member) ? 1 : 0) - (old && isLive(old.member) ? 1 : 0)
    this.#entries.set(id, entry)
  }

  #refute(accusedIncarnation: number, accusation: 'alive' | 'suspect' | 'dead'): void {
    const incarnation = Math.max(this.#self.incarnation, accusedIncarnation) + 1
    this.#self = { ...this.#self, incarnation, state: 'alive' }
    this.#put(this.#self.id, { member: this.#self, suspicion: undefined })
    this.deps.awareness.applyDelta(AWARENESS_DELTA.REFUTED)
    this.#broadcast(this.#self.id, this.aliveOf(this.#self))
    this.emit('selfRefuted', incarnation, accusation)
  }

  #broadcast(about: string, message: AliveMessage | SuspectMessage | DeadMessage): void {
    this.deps.broadcasts.enqueue(about, encodePacket(message))
  }
}

function isLive(m: Member): boolean {
  return m.state === 'alive' || m.state === 'suspect'
}

function sameIdentity(msg: AliveMessage, self: Member): boolean {
  return msg.addresses.gossip === self.addresses.gossip
}
