import type { Clock, TimerHandle } from '../base/clock.js'
import { ProtocolError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import { shuffle, type Rng } from '../base/rng.js'
import type { Transport } from '../transport/transport.js'
import { AWARENESS_DELTA, Awareness } from './awareness.js'
import { BroadcastQueue } from './broadcast-queue.js'
import { decodePacket, encodePacket } from './codec.js'
import { PacketSender } from './packet-sender.js'
import type { Member } from './member.js'
import { MemberTable, type ForgetOutcome, type MembershipEvents } from './member-table.js'
import type { Decoded, GossipMessage, IndirectPingMessage, PingMessage } from './messages.js'
import { indirectNackTimeoutMs, pushPullScaleMs, type GossipProfile } from './profiles.js'
import { PacketSecurity } from './security.js'
import { StreamChannel } from './stream-channel.js'

/**
 * How long a dead member is remembered and retried (serf's reconnect_timeout is 24 h): a hub
 * cut off by a partition or a long outage is found again when it comes back.
 */
export const RECONNECT_TIMEOUT_MS = 24 * 60 * 60 * 1000

export interface SwimDeps {
  /** This hub as a member; `incarnation` is the last one it used (persisted across restarts). */
  self: Member
  transport: Transport
  clock: Clock
  rng: Rng
  log: Logger
  profile: GossipProfile
  /** Cluster label and keyring; none = plaintext, unlabelled. */
  security?: PacketSecurity
  /**
   * Members known before start, taken as they are (alive, dead or left): old news, so neither
   * broadcast nor reported as events. The simulator starts large rings settled this way instead
   * of paying for the N² gossip of N joins. Default none.
   */
  members?: readonly Member[]
}

/** Counters of what arrived and what was refused (bad input is counted, never thrown). */
export interface SwimStats {
  packetsIn: number
  /** Packets dropped for failing security or decoding, by reason. */
  rejected: Record<string, number>
  unknownTypes: number
  probes: number
  /** Probes no ack answered, over UDP or TCP: each one suspects its target. */
  probesFailed: number
  /** Probes answered only over TCP (datagrams lost or blocked): no suspicion, but a sign of trouble. */
  probesTcpOnly: number
}

interface AckWaiter {
  onAck: () => void
  onNack: () => void
}

/**
 * A SWIM member with the Lifeguard extensions, after hashicorp/memberlist: a probe every
 * protocol period (direct ping, then ping-req through `indirectChecks` others with nacks),
 * suspicion with independent confirmations, refutation by incarnation, piggybacked and periodic
 * gossip of a transmit-limited broadcast queue, and TCP push-pull state sync on join and
 * periodically. All time from the Clock, all randomness from the Rng, all bytes through the
 * Transport, so the same code runs on sockets and in the deterministic simulator.
 */
export class SwimNode {
  readonly table: MemberTable
  readonly stats: SwimStats = { packetsIn: 0, rejected: {}, unknownTypes: 0, probes: 0, probesFailed: 0, probesTcpOnly: 0 }
  readonly #awareness: Awareness
  readonly #broadcasts: BroadcastQueue
  readonly #security: PacketSecurity
  readonly #sender: PacketSender
  readonly #stream: StreamChannel
  readonly #acks = new Map<number, AckWaiter>()
  readonly #timers = new Set<TimerHandle>()
  #seq = 0
  #probeOrder: string[] = []
  #probeIndex = 0
  #running = false
  /** A reconnect push-pull is under way (`#reconnect`). */
  #reconnecting = false

  constructor(private readonly deps: SwimDeps) {
    const { profile } = deps
    this.#awareness = new Awareness(profile.awarenessMaxMultiplier)
    this.#security = deps.security ?? new PacketSecurity()
    this.#broadcasts = new BroadcastQueue({ retransmitMult: profile.retransmitMult, numMembers: () => this.table.liveCount, maxQueued: profile.maxQueuedBroadcasts })
    this.#sender = new PacketSender({ transport: deps.transport, security: this.#security, broadcasts: this.#broadcasts, udpPacketBytes: profile.udpPacketBytes })
    this.table = new MemberTable({ self: deps.self, members: deps.members, clock: deps.clock, log: deps.log, profile, broadcasts: this.#broadcasts, awareness: this.#awareness })
    this.#stream = new StreamChannel({ transport: deps.transport, security: this.#security, table: this.table, tcpTimeoutMs: profile.tcpTimeoutMs, rejected: (from, err) => this.#reject(from, err) })
  }

  /** Membership events (typed, past tense), as the member table emits them. */
  on<K extends keyof MembershipEvents>(event: K, listener: (...args: MembershipEvents[K]) => void): this {
    this.table.on(event, listener as never)
    return this
  }

  get self(): Member { return this.table.self }
  get members(): Member[] { return this.table.all() }
  /** Lifeguard's local health score (0 = healthy). */
  get health(): number { return this.#awareness.score }

  /** Starts answering and probing, announcing ourselves at a new incarnation. */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.deps.transport.onPacket((from, data) => this.#receive(from, data))
    this.deps.transport.onRequest((from, data) => this.#stream.serve(from, data))
    this.table.announceSelf()
    const { profile } = this.deps
    this.#every(() => this.#awareness.scaleTimeout(profile.probeIntervalMs), () => this.#probe())
    this.#every(() => profile.gossipIntervalMs, () => this.#gossip())
    if (profile.pushPullIntervalMs > 0) this.#every(() => pushPullScaleMs(profile.pushPullIntervalMs, this.table.liveCount), () => { void this.#pushPullRandom() })
    if (profile.reconnectIntervalMs > 0) this.#every(() => profile.reconnectIntervalMs, () => { void this.#reconnect() })
    this.#every(() => profile.gossipToTheDeadMs, () => this.table.reap(profile.gossipToTheDeadMs, RECONNECT_TIMEOUT_MS))
  }

  /**
   * Joins through the given seed addresses: a push-pull state exchange with each. Resolves with
   * how many answered; the caller retries with backoff while it is 0.
   */
  async join(seeds: readonly string[]): Promise<number> {
    let reached = 0
    await Promise.all(seeds.filter((s) => s !== this.self.addresses.gossip).map(async (seed) => {
      try {
        await this.#stream.pushPull(seed, true)
        reached++
      } catch (err) {
        this.deps.log.debug({ seed, err }, 'join: seed did not answer')
      }
    }))
    return reached
  }

  /** Graceful leave: tell the others (waits until the news went out or `timeoutMs`), then stop. */
  async leave(timeoutMs: number): Promise<void> {
    if (!this.#running) return
    await new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimeout(resolve, timeoutMs)
      this.table.leave(() => { this.deps.clock.clearTimeout(timer); resolve() })
      this.#gossip()
    })
    this.stop()
  }

  /** Forgets a member this hub holds dead (`MemberTable.forget`); the news goes out at once. */
  forget(id: string): ForgetOutcome {
    const outcome = this.table.forget(id)
    if (outcome === 'forgotten' && this.#running) this.#gossip()
    return outcome
  }

  /** Stops every timer; the transport is the caller's to close. */
  stop(): void {
    this.#running = false
    for (const t of this.#timers) this.deps.clock.clearTimeout(t)
    this.#timers.clear()
    this.#acks.clear()
    this.table.stop()
  }

  // ------------------------------------------------------------------------------ probing

  /** One SWIM protocol period: probe the next member in a shuffled round-robin (SWIM §4.3). */
  #probe(): void {
    const target = this.#nextProbeTarget()
    if (!target) return
    const { profile } = this.deps
    this.stats.probes++
    const seq = this.#nextSeq()
    let acked = false
    let tcpAcked = false
    let nacks = 0
    let expectedNacks = 0
    this.#acks.set(seq, { onAck: () => { acked = true }, onNack: () => { nacks++ } })
    const ping: PingMessage = { type: 'ping', seq, target: target.id, from: this.self.id, fromAddr: this.self.addresses.gossip }
    // Lifeguard buddy system: a suspect hears of its suspicion in the probe itself, so it can
    // refute without waiting for gossip to reach it.
    const buddy = target.state === 'suspect' ? [encodePacket({ type: 'suspect', incarnation: target.incarnation, node: target.id, from: this.self.id })] : []
    this.#sender.send(target.addresses.gossip, encodePacket(ping), buddy)

    const timeoutMs = this.#awareness.scaleTimeout(profile.probeTimeoutMs)
    const periodMs = this.#awareness.scaleTimeout(profile.probeIntervalMs)
    this.#after(timeoutMs, () => {
      if (acked) return
      const helpers = this.#randomMembers(profile.indirectChecks, (m) => m.id !== target.id && m.state === 'alive')
      expectedNacks = helpers.length
      for (const h of helpers) {
        const req: IndirectPingMessage = { type: 'indirect-ping', seq, target: target.id, targetAddr: target.addresses.gossip, nack: true, from: this.self.id, fromAddr: this.self.addresses.gossip }
        this.#sender.send(h.addresses.gossip, encodePacket(req))
      }
      // memberlist's TCP fallback ping, alongside the indirect ones: a member whose datagrams are
      // lost (a lossy link, a firewall dropping UDP) but who answers over TCP is not suspected.
      // Its answer must be in before the verdict below, one period after the ping.
      const tcpTimeoutMs = Math.min(profile.tcpTimeoutMs, periodMs - timeoutMs - 2)
      if (tcpTimeoutMs > 0) {
        this.#stream.ping(target.addresses.gossip, ping, tcpTimeoutMs).then((ok) => { tcpAcked = ok }, (err: unknown) => {
          this.deps.log.debug({ member: target.id, err }, 'TCP ping failed')
        })
      }
    })
    this.#after(periodMs - 1, () => {
      this.#acks.delete(seq)
      if (acked) {
        this.#awareness.applyDelta(AWARENESS_DELTA.PROBE_SUCCEEDED)
        return
      }
      // Lifeguard LHA-Probe: missing nacks mean *we* may be the slow one.
      if (expectedNacks > 0) this.#awareness.applyDelta((expectedNacks - nacks) * AWARENESS_DELTA.NACK_MISSED)
      else this.#awareness.applyDelta(AWARENESS_DELTA.PROBE_FAILED)
      if (tcpAcked) {
        this.stats.probesTcpOnly++
        this.deps.log.warn({ member: target.id }, 'member answered over TCP but not over UDP; the network may drop datagrams')
        return
      }
      this.stats.probesFailed++
      const now = this.table.get(target.id)
      if (now && (now.state === 'alive' || now.state === 'suspect')) {
        this.table.applySuspect({ type: 'suspect', incarnation: now.incarnation, node: now.id, from: this.self.id })
      }
    })
  }

  #nextProbeTarget(): Member | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.#probeIndex < this.#probeOrder.length) {
        const m = this.table.get(this.#probeOrder[this.#probeIndex++] as string)
        if (m && m.id !== this.self.id && (m.state === 'alive' || m.state === 'suspect')) return m
      }
      this.#probeOrder = shuffle([...this.table.ids()], this.deps.rng)
      this.#probeIndex = 0
    }
    return undefined
  }

  // ------------------------------------------------------------------------------ receiving

  #receive(from: string, data: Uint8Array): void {
    this.stats.packetsIn++
    let message: Decoded
    try {
      message = decodePacket(this.#security.open(data), { maxBytes: this.deps.transport.maxPacketBytes })
    } catch (err) {
      this.#reject(from, err)
      return
    }
    this.#dispatch(message)
  }

  #dispatch(message: Decoded<GossipMessage>): void {
    switch (message.type) {
      case 'compound': for (const part of message.parts) this.#dispatch(part); return
      case 'ping': return this.#onPing(message)
      case 'indirect-ping': return this.#onIndirectPing(message)
      case 'ack': this.#acks.get(message.seq)?.onAck(); return
      case 'nack': this.#acks.get(message.seq)?.onNack(); return
      case 'alive': return this.table.applyAlive(message)
      case 'suspect': return this.table.applySuspect(message)
      case 'dead': return this.table.applyDead(message)
      case 'push-pull': this.#countRejected('push-pull-over-udp'); return // belongs on TCP
      case 'unknown': this.stats.unknownTypes++; return
    }
  }

  #onPing(ping: PingMessage): void {
    // A ping meant for another id that used to live at our address (memberlist ping.Node).
    if (ping.target !== this.self.id) return
    this.#sender.send(ping.fromAddr, encodePacket({ type: 'ack', seq: ping.seq }))
  }

  #onIndirectPing(req: IndirectPingMessage): void {
    const seq = this.#nextSeq()
    let acked = false
    this.#acks.set(seq, {
      onAck: () => {
        acked = true
        this.#sender.send(req.fromAddr, encodePacket({ type: 'ack', seq: req.seq }))
      },
      onNack: () => {},
    })
    this.#sender.send(req.targetAddr, encodePacket({ type: 'ping', seq, target: req.target, from: this.self.id, fromAddr: this.self.addresses.gossip }))
    this.#after(indirectNackTimeoutMs(this.deps.profile), () => {
      this.#acks.delete(seq)
      if (!acked && req.nack) this.#sender.send(req.fromAddr, encodePacket({ type: 'nack', seq: req.seq }))
    })
  }

  // ------------------------------------------------------------------------------ gossip

  /** Sends queued broadcasts to a few random members (memberlist gossip). */
  #gossip(): void {
    if (this.#broadcasts.size === 0) return // nothing to tell: skip choosing targets
    const now = this.deps.clock.monotonicMs()
    const { gossipNodes, gossipToTheDeadMs } = this.deps.profile
    // The recently dead get gossip too, so one wrongly declared dead learns it and refutes.
    const targets = this.#randomMembers(gossipNodes, (m) => m.state === 'alive' || m.state === 'suspect' || now - m.stateChangeMs < gossipToTheDeadMs)
    for (const t of targets) {
      if (!this.#sender.sendBroadcasts(t.addresses.gossip)) return
    }
  }

  // ------------------------------------------------------------------------------ push-pull

  /** Periodic anti-entropy with a random alive member. */
  async #pushPullRandom(): Promise<void> {
    const [peer] = this.#randomMembers(1, (m) => m.state === 'alive')
    if (peer) await this.#pushPullWith(peer)
  }

  /**
   * serf's reconnect: a push-pull with a random dead member (`reconnectIntervalMs`). After a
   * partition both sides hold the other dead, and only such an attempt lets them find each other
   * again once the network heals. One at a time: across a cut, an attempt lasts the TCP timeout.
   */
  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return
    const [lost] = this.#randomMembers(1, (m) => m.state === 'dead')
    if (!lost) return
    this.#reconnecting = true
    try {
      await this.#pushPullWith(lost)
    } finally {
      this.#reconnecting = false
    }
  }

  async #pushPullWith(m: Member): Promise<void> {
    try {
      await this.#stream.pushPull(m.addresses.gossip, false)
    } catch (err) {
      this.deps.log.debug({ peer: m.id, err }, 'push-pull failed')
    }
  }

  // ------------------------------------------------------------------------------ helpers

  #reject(from: string, err: unknown): void {
    const reason = err instanceof ProtocolError ? err.reason : 'unexpected'
    this.#countRejected(reason)
    this.deps.log.debug({ from, reason, err: (err as Error).message }, 'gossip packet dropped')
  }

  #countRejected(reason: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1
  }

  /**
   * Up to `k` distinct random members other than us that `keep` accepts (memberlist
   * `kRandomNodes`): random picks, at most 3 × N of them, so the cost is O(k) in a healthy ring
   * and the search still covers a small one. Every gossip round and failed probe calls this.
   */
  #randomMembers(k: number, keep: (m: Member) => boolean): Member[] {
    const ids = this.table.ids()
    const picked: Member[] = []
    for (let tries = 0; tries < 3 * ids.length && picked.length < k; tries++) {
      const m = this.table.get(ids[this.deps.rng.int(ids.length)] as string)
      if (m && m.id !== this.self.id && keep(m) && !picked.includes(m)) picked.push(m)
    }
    return picked
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0
    return this.#seq
  }

  #after(ms: number, fn: () => void): void {
    const t = this.deps.clock.setTimeout(() => { this.#timers.delete(t); if (this.#running) fn() }, ms)
    this.#timers.add(t)
  }

  /**
   * Runs `fn` repeatedly, each next run after `periodMs()` (re-read: awareness may stretch it).
   * The first run comes after a random part of one period (memberlist's `triggerFunc` stagger),
   * so members started together do not probe and gossip in lockstep.
   */
  #every(periodMs: () => number, fn: () => void): void {
    const tick = (): void => {
      if (!this.#running) return
      fn()
      this.#after(periodMs(), tick)
    }
    this.#after(Math.floor(this.deps.rng.next() * periodMs()), tick)
  }
}

