import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import { StallWatch } from '../base/stall-watch.js'
import { classifyFilter, keyOf } from '../ring/keys.js'
import { topicMatches } from '../ring/topic-match.js'
import { isStoreFailure } from '../store/store-failure.js'
import type { LogEntry, Offset, TopicLog } from '../store/topic-log.js'
import { DeliveryCursors, type DeliveryCursorStats } from './delivery-cursors.js'
import { InterestTable } from './interest-table.js'
import { PeerReplay } from './peer-replay.js'
import { Replicator } from './replicator.js'
import { RefusalGaps } from './refusal-gaps.js'
import { RetryHolds } from './retry-holds.js'
import { LocalInterest } from './local-interest.js'
import { offsetAfter } from '../contract/channels.js'
import { readAcross, type LogRead, type LogSource } from './log-reach.js'
import { KeyHandoff } from './key-handoff.js'
import { Ingress, originOf, type IngressMessage, type PublishOrigin } from './ingress.js'
import type { BarrierMessage, DeliverMessage, LogRequest, PublishReply, PublishRequest, ReplicaEntry, RouterMessage, RouterReply, RouterRequest } from './messages.js'
import { SeenPublishes, type SeenPublish } from './seen-publishes.js'
import { SentOffsets } from './sent-offsets.js'
import type { PeerBus } from './peer-bus.js'
import { NotOwnerError, RetryFirstError, UnreplicatedError, type Sequencer } from './sequencer.js'

/** A message handed to this hub's own subscribers. */
export interface Delivery {
  key: string
  epoch: number
  seq: number
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
}

/** Local deliveries still being handed to clients beyond which a publish waits (back-pressure). */
export const BACKLOG_LIMIT = 1_000

/** Progress of one local delivery. */
export interface LocalDelivery {
  /** QoS 1/2: in the queues of this hub's persistent sessions, committed (an ack waits for it). */
  queued: Promise<void> | undefined
  /** Deliveries of this hub not yet handed to every matching live client, this one included. */
  backlog: number
  /** Resolves once the backlog is down to BACKLOG_LIMIT / 2. */
  drained: () => Promise<void>
}

export interface RetainedMessage { topic: string, payload: Buffer, qos: 0 | 1 | 2 }

/** Where the owner keeps retained messages (the aedes `retained` table in a hub). */
export interface RetainedStore {
  /** Stores (or, with an empty payload, clears) the retained message of a topic; resolves once committed. */
  store(message: RetainedMessage): Promise<void>
  /** Retained messages matching any of `filters`. */
  matching(filters: readonly string[]): Promise<RetainedMessage[]>
}

export interface RouterDeps {
  self: string
  bus: PeerBus
  /** The owner of `key` in the current ring (undefined: no hub alive, cannot happen with self). */
  ownerOf(key: string): string | undefined
  /** Up to `n` hubs for `key`, the owner first, then its successors on the ring. */
  replicasOf(key: string, n: number): string[]
  /** Copies of each message: the owner's and `replicationFactor − 1` successors'. Default 2. */
  replicationFactor?: number
  /** Hub members not known to have left (alive, suspect, dead; this one included): see `ReplicatorDeps.knownHubs`. */
  knownHubs?(): number
  /**
   * A pause of this process longer than this (ms) may have let the other hubs declare it dead
   * and number its keys: it then takes every key over again before numbering anything (see
   * `#stalled`). Undefined: not watched. A hub passes its gossip profile's shortest time to a
   * death verdict.
   */
  stallMs?: number
  /** Alive hub members other than this one. */
  peers(): readonly string[]
  sequencer: Sequencer
  /** This hub's topic log, read for resume requests. */
  topicLog: Pick<TopicLog, 'since' | 'state' | 'knownEpoch' | 'noteEpoch' | 'appendReplica' | 'tail' | 'oldest'>
  retained: RetainedStore
  /** Hands a sequenced message to this hub's subscribers (aedes, in a hub); see LocalDelivery.
   *  Nothing returned: taken at once. */
  deliverLocal(delivery: Delivery): LocalDelivery | void
  clock: Clock
  log: Logger
  keyDepth: number
  /** How long a forwarded publish keeps retrying (owner unreachable or moving), ms. */
  forwardTimeoutMs?: number
  /** Deadline of one request to a peer, ms. */
  requestTimeoutMs?: number
  /** Interest is re-sent to every peer this often, ms (soft state). */
  interestRefreshMs?: number
}

export interface RouterStats {
  forwarded: number
  forwardRetries: number
  sequenced: number
  duplicates: number
  refusedNotOwner: number
  deliveriesSent: number
  deliveriesDropped: number
  deliveriesReceived: number
  replicated: number
  replicaFailures: number
  handoffsSent: number
  handoffsReceived: number
  /** Messages sent again to hubs that came back after being declared dead. */
  replayedToReturningPeers: number
  /** Deliveries to a live hub that could not be queued at first, sent from the log afterwards (`PeerReplay`). */
  deliveriesResent: number
  /** Keys this hub stopped sequencing because another hub had numbered them in a newer epoch (`#superseded`). */
  superseded: number
  /** Pauses of this process long enough for a death verdict, after which it took every key over again (`#stalled`). */
  stalls: number
  /** Messages this hub owned and could not finish now (copies failed, take-over refused), whose retries go first (`RetryHolds`). */
  retriesKeptFirst: number
  /** Waits of messages for such a retry, or for a message of their key that arrived before them (`RetryHolds.turn`). */
  heldForRetries: number
  /** Publishes refused because an earlier publish of their ingress run was refused here and has not come back (`RefusalGaps`). */
  refusedBehindRefusal: number
  /** Refusals and kept places ended because a later publish said its ingress had finished theirs (`PublishRequest.first`). */
  endedByIngress: number
  /** Catch-up reads of a peer's log tried again after a failure (a link that had just broken). */
  catchUpReadRetries: number
  /** Last deliveries of keys sent again to a peer whose link broke and came back (`PeerReplay.linkOpened`). */
  tailsResent: number
  /** Reads from an offset before the owner's oldest entry answered with older entries from other hubs' logs (`logSince`). */
  olderLogReads: number
  /** Hubs that did not answer such a read (left out: the answer stops before what only they held). */
  olderLogReadFailures: number
}

/** Log entries one resume request returns at most. */
export const MAX_LOG_READ = 1_000
/**
 * How long a key keeps a place for the retry of a message its owner could not finish, ms. A live
 * ingress retries within its backoff (25 ms after a ring change, 1 s at most; told at once when
 * copies fail). One that will not (it was answered by another owner, or gave up: as for the
 * requests a paused hub reads after SIGCONT) holds the key up this long: short, then.
 */
const RETRY_HOLD_MS = 1_000
/** After a hub is back from the dead, its keys are read again after these delays, ms (link redials back off up to 5 s). */
const CATCH_UP_AGAIN_MS = [1_000, 3_000, 6_000]
/**
 * A catch-up's read of a peer's log is tried again after these delays, ms, while the peer is in
 * the ring: the link it needs may be the one that just broke, and redials back off up to 5 s
 * (about 10 s in all; 2 s before, which a link down for 9 s outlasted, router-memory.test.ts).
 * Given up, a read leaves its gap missing for good.
 */
const CATCH_UP_READ_AGAIN_MS = [100, 400, 1_500, 3_000, 5_000]

/**
 * One broker made of many hubs (DESIGN §2–§3): a publish goes to its key's owner, which numbers
 * it `(epoch, seq)`, logs it, updates the retained store, and only then acknowledges; the owner
 * sends each message once to every hub with a matching subscription (fan-out grouped per hub),
 * and every hub hands what it receives to its own subscribers. Subscriptions register interest
 * with the key's owner (keyed filters) or with every hub (global filters).
 *
 * Every message is also copied to the key's successors before it is acknowledged (`#replicate`);
 * moving keys between owners is `KeyHandoff`'s; reads from an offset are `logSince`.
 */
export class Router {
  readonly stats: RouterStats = { forwarded: 0, forwardRetries: 0, sequenced: 0, duplicates: 0, refusedNotOwner: 0, deliveriesSent: 0, deliveriesDropped: 0, deliveriesReceived: 0, replicated: 0, replicaFailures: 0, handoffsSent: 0, handoffsReceived: 0, replayedToReturningPeers: 0, deliveriesResent: 0, superseded: 0, stalls: 0, retriesKeptFirst: 0, heldForRetries: 0, refusedBehindRefusal: 0, endedByIngress: 0, catchUpReadRetries: 0, tailsResent: 0, olderLogReads: 0, olderLogReadFailures: 0 }
  readonly #interest = new InterestTable()
  /** What each peer was last sent of each key (the `from` of live deliveries). */
  readonly #sent = new SentOffsets()
  #stopped = false
  readonly #local = new LocalInterest()
  readonly #seen = new SeenPublishes()
  /** Keys with fan-outs waiting for an earlier message of theirs (see `#fanOutInOrder`). */
  readonly #fanOutQueues = new Map<string, { tail: Promise<void>, pending: number }>()
  readonly #handoff: KeyHandoff
  /** Take-overs waiting for every peer's interest (`#interestKnown`). */
  readonly #interestWaiters: Array<() => void> = []
  /** Peers not heard from by a take-over's deadline: not waited for again. */
  readonly #interestGivenUp = new Set<string>()
  readonly #ingress: Ingress
  readonly #requestTimeoutMs: number
  /** Interest of new filters being told to peers (a second subscriber waits for the same). */
  readonly #telling = new Map<string, Promise<void>>()
  /** Barriers sent to peers, waiting for their ack. */
  readonly #barriers = new Map<number, () => void>()
  #nextBarrier = 0
  /** Services built on the link by other parts of the hub (sessions, wills), by message type. */
  readonly #services = new Map<string, (from: string, r: RouterRequest) => Promise<RouterReply>>()
  readonly #listeners = new Map<string, (from: string, m: RouterMessage) => void>()
  /** What this hub has handed to its subscribers, per key; catch-up when a key's owner changes. */
  readonly #cursors: DeliveryCursors
  /** What hubs declared dead missed, sent when they are back. */
  readonly #replay: PeerReplay
  readonly #replicator: Replicator
  #refreshTimer: TimerHandle | undefined
  readonly #stallWatch: StallWatch | undefined
  /** Numbered messages not yet through (`#finish`); a leaving hub waits for them (`quiesce`). */
  readonly #inFlight = new Set<Promise<void>>()
  #quiescing = false
  /** Peers declared dead and not back since (`peerBack` of one of them resequences every key). */
  readonly #gone = new Set<string>()
  /** Peers back from the dead since the last ownership change. */
  readonly #returned = new Set<string>()
  /** Keys whose next numbers wait for the retries of messages this hub could not finish. */
  readonly #holds: RetryHolds
  /** Publishes refused without a kept place, whose runs' later publishes are refused until they come back. */
  readonly #gaps: RefusalGaps
  /** Publishes that reached `#sequence`, counted: their arrival order (`RetryHolds`). */
  #arrivals = 0

  constructor(private readonly deps: RouterDeps) {
    this.#requestTimeoutMs = deps.requestTimeoutMs ?? 2_000
    this.#holds = new RetryHolds({ clock: deps.clock, holdMs: RETRY_HOLD_MS })
    this.#gaps = new RefusalGaps({ clock: deps.clock, gapMs: RETRY_HOLD_MS })
    this.#handoff = new KeyHandoff({
      ...deps, replicationFactor: deps.replicationFactor ?? 2, requestTimeoutMs: this.#requestTimeoutMs, stats: this.stats,
      interestKnown: () => this.#interestKnown(),
      fannedOut: (key) => this.#fanOutQueues.get(key)?.tail ?? Promise.resolve(),
    })
    this.#ingress = new Ingress({
      self: deps.self, bus: deps.bus, ownerOf: (key) => deps.ownerOf(key), sequenceHere: (key, message, id, n, first) => {
        this.#finishedBefore(key, id, n, first)
        return this.#sequence(key, id, message, undefined, undefined, n)
      },
      stats: this.stats, clock: deps.clock, forwardTimeoutMs: deps.forwardTimeoutMs ?? 10_000, requestTimeoutMs: this.#requestTimeoutMs,
      pausedMs: () => this.#stallWatch?.pausedMs ?? 0,
    })
    this.#replicator = new Replicator({
      self: deps.self, bus: deps.bus, replicasOf: deps.replicasOf, replicationFactor: deps.replicationFactor ?? 2, knownHubs: deps.knownHubs, topicLog: deps.topicLog,
      retained: deps.retained, seen: this.#seen, stats: this.stats, requestTimeoutMs: this.#requestTimeoutMs, clock: deps.clock, log: deps.log,
      superseded: (key) => this.#superseded(key),
      copiesFailed: (entries) => this.#copiesFailed(entries),
      confirmedHere: (ids) => this.#ingress.confirmations.confirmed(deps.self, ids),
    })
    this.#replay = new PeerReplay({ sequencer: deps.sequencer, topicLog: deps.topicLog, interest: this.#interest, bus: deps.bus, sent: this.#sent, owns: (key) => this.owns(key), stats: this.stats, clock: deps.clock, log: deps.log })
    this.#cursors = new DeliveryCursors({
      self: deps.self,
      hand: (d) => deps.deliverLocal(d),
      readLog: (hub, key, from) => hub === deps.self ? deps.topicLog.since(key, from, MAX_LOG_READ) : this.#readLogAgain(hub, key, from),
      began: (hub, key) => this.#began(hub, key),
      wanted: () => {
        const filters = this.#local.filters()
        return (topic) => filters.some((f) => topicMatches(f, topic))
      },
      log: deps.log,
    })
    if (deps.stallMs !== undefined) this.#stallWatch = new StallWatch({ clock: deps.clock, stallMs: deps.stallMs, onStall: (gapMs) => this.#stalled(gapMs) })
    deps.bus.onMessage((from, m) => this.#onMessage(from, m))
    deps.bus.onRequest((from, r) => this.#onRequest(from, r))
    deps.bus.onLinkOpen((peer, again, boot) => {
      if (this.#stopped) return
      this.#sent.linkOpened(peer, boot)
      if (again) this.#replay.linkOpened(peer)
    })
  }

  start(): void {
    this.#stallWatch?.start()
    const every = this.deps.interestRefreshMs ?? 30_000
    const tick = (): void => {
      this.refreshInterest()
      this.#refreshTimer = this.deps.clock.setTimeout(tick, every)
      this.#refreshTimer.unref()
    }
    this.#refreshTimer = this.deps.clock.setTimeout(tick, every)
    this.#refreshTimer.unref()
  }

  stop(): void {
    this.#stopped = true
    this.#stallWatch?.stop()
    this.#ingress.stop()
    this.#replay.stop()
    this.deps.clock.clearTimeout(this.#refreshTimer)
  }

  /**
   * Publishes a message (not a `$` topic) through its key's owner (`Ingress`); resolves with its
   * offset once it may be acknowledged: the owner has committed it and a replica holds it.
   */
  publish(message: { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }): Promise<Offset> {
    const key = keyOf(message.topic, this.deps.keyDepth)
    if (key === null) throw new RangeError(`${message.topic} is a local topic; it is not routed`)
    return this.#ingress.publish(key, message)
  }

  /**
   * A local client subscribed to `filter`. Resolves once the hubs that must know (the key's
   * owner, or every hub for a global filter) have recorded the interest, so a message published
   * after the SUBACK reaches the subscriber; a hub that does not answer in time learns it from
   * the next refresh.
   */
  subscribe(filter: string): Promise<void> {
    if (!this.#local.add(filter)) return this.#telling.get(filter) ?? Promise.resolve()
    const told = this.#tellInterest('add', filter).finally(() => {
      if (this.#telling.get(filter) === told) this.#telling.delete(filter)
    })
    this.#telling.set(filter, told)
    return told
  }

  /** Resolves once the interest in `filter` being told to peers now (if any) is recorded. */
  told(filter: string): Promise<void> { return this.#telling.get(filter) ?? Promise.resolve() }

  /** A local client unsubscribed from `filter` (or went away). */
  unsubscribe(filter: string): Promise<void> {
    if (!this.#local.remove(filter)) return Promise.resolve()
    return this.#tellInterest('remove', filter)
  }

  async #tellInterest(op: 'add' | 'remove', filter: string): Promise<void> {
    await Promise.all(this.#interestedPeersOf(filter).map(async (peer) => {
      try {
        await this.deps.bus.request(peer, { t: 'interest', op, filters: [filter] }, this.#requestTimeoutMs)
      } catch (err) {
        this.deps.log.warn({ err, peer, filter, op }, 'interest not acknowledged; the next refresh repeats it')
      }
    }))
  }

  /**
   * The ring changed: keys this hub lost stop being sequenced here (fencing) and go to their new
   * owners, every peer gets this hub's interest again (keyed filters may have new owners),
   * publishes waiting on a dead hub's copies give up, and publishes waiting to retry go to the new
   * owners at once.
   */
  ownershipChanged(): void {
    this.#handoff.handOffLost()
    // A key that comes back here comes in a new epoch, which receivers check anyway.
    this.#sent.keepOnly((key) => this.owns(key))
    this.#holds.ringChanged()
    this.refreshInterest()
    this.#cursors.sourcesGone(new Set(this.deps.peers()), (key) => this.deps.ownerOf(key))
    this.#catchUpReturned()
    this.#returned.clear()
    const alive = new Set(this.deps.peers()).add(this.deps.self)
    this.#ingress.ringChanged((hub) => alive.has(hub))
  }

  /** Keys owned by hubs back from the dead: read what this hub missed of them (`DeliveryCursors.sourcesBack`). */
  #catchUpReturned(): void {
    if (this.#returned.size > 0) this.#cursors.sourcesBack(this.#returned, (key) => this.deps.ownerOf(key))
  }

  /** Re-sends this hub's whole interest to every peer (soft state): on changes, and periodically. */
  refreshInterest(): void {
    const byPeer = new Map<string, string[]>(this.deps.peers().map((p) => [p, []]))
    for (const filter of this.#local.filters()) {
      for (const peer of this.#interestedPeersOf(filter)) byPeer.get(peer)?.push(filter)
    }
    for (const [peer, filters] of byPeer) this.deps.bus.send(peer, { t: 'interest', op: 'replace', filters })
  }

  /** Alive hub members other than this one. */
  peers(): readonly string[] { return this.deps.peers() }

  /**
   * Lets another part of the hub answer peers' requests of these types (the router's own types
   * are its own). A request of a type nobody serves gets an error reply.
   */
  serve<T extends RouterRequest['t']>(types: readonly T[], handler: (from: string, r: Extract<RouterRequest, { t: T }>) => Promise<RouterReply>): void {
    for (const t of types) this.#services.set(t, handler as (from: string, r: RouterRequest) => Promise<RouterReply>)
  }

  /** Lets another part of the hub take peers' one-way messages of these types. */
  listen<T extends RouterMessage['t']>(types: readonly T[], handler: (from: string, m: Extract<RouterMessage, { t: T }>) => void): void {
    for (const t of types) this.#listeners.set(t, handler as (from: string, m: RouterMessage) => void)
  }

  /**
   * Resolves true once every delivery `peer` sent to this hub before it saw this barrier has
   * been handed to this hub's subscribers (the ack travels behind them on the same ordered
   * link); false when no ack came within `timeoutMs`.
   */
  barrier(peer: string, timeoutMs: number): Promise<boolean> {
    const id = ++this.#nextBarrier
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(() => { this.#barriers.delete(id); resolve(false) }, timeoutMs)
      this.#barriers.set(id, () => { this.deps.clock.clearTimeout(timer); resolve(true) })
      if (!this.deps.bus.send(peer, { t: 'barrier', id })) {
        this.#barriers.delete(id)
        this.deps.clock.clearTimeout(timer)
        resolve(false)
      }
    })
  }

  /** Whether the ring names this hub the owner of `key`. */
  owns(key: string): boolean { return this.deps.ownerOf(key) === this.deps.self }

  /** A peer left the ring or died: nothing more is sent to it (its interest goes dormant). */
  peerGone(peer: string): void {
    this.#holds.hubGone(peer)
    this.#interest.dropPeer(peer)
    this.#replay.gone(peer)
    this.#gone.add(peer)
  }

  /** A peer joined, or came back after it was declared dead: its dormant interest applies again, and it gets what it missed. */
  peerBack(peer: string): void {
    this.#interest.peerBack(peer)
    this.#replay.back(peer)
    // Back from the dead (a partition healed, a pause ended): while this hub held it dead, the
    // peer may have numbered keys this hub still sequences (each side owned them), so every key
    // is taken over again before its next message, in an epoch above the other side's.
    if (this.#gone.delete(peer)) {
      this.resequenceAll()
      this.#catchUpFrom([peer])
    }
  }

  /**
   * This hub was declared dead and refuted (a pause past the suspicion timeout): others may have
   * numbered its keys meanwhile, and what they sent it between its stop and their verdict went
   * into a link they then dropped. Every key is re-taken, and every peer's keys read after the cursor.
   */
  refutedDeath(): void {
    this.resequenceAll()
    this.#catchUpFrom(this.deps.peers())
  }

  /** Catch-ups of the keys `peers` own, at the next ownership change, now, and again later (a link may still be backing off). */
  #catchUpFrom(peers: readonly string[]): void {
    for (const peer of peers) this.#returned.add(peer)
    this.#catchUpReturned()
    const back = new Set(peers)
    for (const ms of CATCH_UP_AGAIN_MS) {
      this.deps.clock.setTimeout(() => this.#cursors.sourcesBack(back, (key) => this.deps.ownerOf(key)), ms).unref()
    }
  }

  /**
   * This process did not run for longer than the other hubs need to declare it dead (a SIGSTOP,
   * a paused VM): they may have taken its keys over and numbered them meanwhile, and what it
   * numbers now in its old epochs would reach its own subscribers ahead of theirs. So before
   * numbering anything it gives up every key (the next message of each takes it over again above
   * the epochs the others hold) and reads the other hubs' keys after its delivery cursors, as
   * after a refuted death. Found before the first message is numbered: the check runs on the
   * numbering path too, not only on its timer.
   */
  #stalled(gapMs: number): void {
    this.stats.stalls++
    this.deps.log.warn({ stalledMs: Math.round(gapMs), thresholdMs: this.deps.stallMs }, 'this hub did not run for longer than a death verdict takes; taking every key over again')
    this.refutedDeath()
  }

  /**
   * Another hub numbered `key` in a newer epoch while this one still sequenced it (a replica
   * refused a copy, or the other hub handed the key back): this hub was paused or cut off past its
   * death without hearing of it. It stops sequencing the key; the next message takes it over
   * again (`KeyHandoff.acquire`) in an epoch above the other's, and this hub's subscribers get
   * what the other numbered from the handed-over tail (`DeliveryCursors`, epoch change).
   */
  #superseded(key: string): void {
    if (!this.deps.sequencer.owns(key)) return
    this.deps.sequencer.release(key)
    this.stats.superseded++
    this.deps.log.info({ key }, 'another hub numbered this key meanwhile; taking it over again')
  }

  /**
   * Gives up sequencing every key (those lost are handed off first): the next message of each
   * re-acquires it (`KeyHandoff.acquire`) in a new epoch above every replica's. After a split
   * view of the ring (this hub was declared dead and refuted, or a hub it held dead is back), an
   * epoch numbered on the other side must never sort above what this hub numbers next.
   */
  resequenceAll(): void {
    this.#handoff.handOffLost()
    for (const key of [...this.deps.sequencer.ownedKeys]) this.deps.sequencer.release(key)
  }

  /** Retained messages for new subscriptions: from each keyed filter's owner, from every hub for global ones. */
  async retainedFor(filters: readonly string[]): Promise<RetainedMessage[]> {
    const ask = new Map<string, string[]>()
    const want = (hub: string, filter: string): void => { const list = ask.get(hub); if (list) list.push(filter); else ask.set(hub, [filter]) }
    for (const filter of filters) {
      const c = classifyFilter(filter, this.deps.keyDepth)
      if (c.kind === 'local') continue
      if (c.kind === 'keyed') want(this.deps.ownerOf(c.key) ?? this.deps.self, filter)
      else for (const hub of [this.deps.self, ...this.deps.peers()]) want(hub, filter)
    }
    const answers = await Promise.all([...ask].map(async ([hub, list]) => {
      if (hub === this.deps.self) return this.#ownedRetained(list)
      try {
        const reply = await this.deps.bus.request(hub, { t: 'retained', filters: list }, this.#requestTimeoutMs)
        return reply.t === 'retained-messages' ? reply.messages.map((m) => ({ ...m, payload: Buffer.from(m.payload) })) : []
      } catch (err) {
        this.deps.log.warn({ err, hub }, 'retained messages unavailable from a hub')
        return []
      }
    }))
    const byTopic = new Map<string, RetainedMessage>()
    for (const list of answers) for (const m of list) byTopic.set(m.topic, m)
    return [...byTopic.values()]
  }

  /**
   * Resume from an offset: the key's messages after `from`, oldest first, at most `limit`, read
   * from the owner's log (this hub's, or the owner's over the link). `owner` says who answered.
   * Earlier owners' entries are in it as far as the handoff tail reached; when the read starts
   * before the owner's oldest entry, what lies between is read from the other alive hubs' logs
   * (`log-reach.ts`; a hub that does not answer is left out). `oldest`: the first offset any of
   * them holds.
   */
  async logSince(key: string, from: Offset, limit: number): Promise<{ owner: string, entries: LogEntry[], oldest: Offset | null }> {
    const owner = this.deps.ownerOf(key) ?? this.deps.self
    const source = (hub: string): LogSource => (after, n, through) => hub === this.deps.self
      ? Promise.resolve(this.#logHere(key, after, n, through))
      : this.#requestLog(hub, key, after, n, through)
    const others = [this.deps.self, ...this.deps.peers()].filter((hub) => hub !== owner)
    const answer = await readAcross(from, Math.min(limit, MAX_LOG_READ), source(owner), others.map(source), (err, i) => {
      // Left out: if it held the only copies of some, the answer stops before them (`withOlder`).
      this.stats.olderLogReadFailures++
      this.deps.log.info({ err, peer: others[i], key }, 'a hub did not answer a log read before the owner\'s oldest entry; left out')
    })
    if (answer.merged) this.stats.olderLogReads++
    return { owner, entries: answer.entries, oldest: answer.oldest }
  }

  /** This hub's log of `key` after `from`: at most `limit` entries, only those up to `through` (included) when given. */
  #logHere(key: string, from: Offset, limit: number, through?: Offset): LogRead {
    const entries = this.deps.topicLog.since(key, from, limit)
    return { entries: through ? entries.filter((e) => !offsetAfter(e, through)) : entries, oldest: this.deps.topicLog.oldest(key) ?? null }
  }

  /** Delivery counters (repeats skipped, catch-ups after an owner change). */
  get deliveryStats(): Readonly<DeliveryCursorStats> { return this.#cursors.stats }

  async #readLog(hub: string, key: string, from: Offset, limit = MAX_LOG_READ): Promise<LogEntry[]> {
    return (await this.#requestLog(hub, key, from, limit)).entries
  }

  /** `#readLog` for a catch-up: tried again (CATCH_UP_READ_AGAIN_MS) while `hub` is alive in this hub's view. */
  async #readLogAgain(hub: string, key: string, from: Offset): Promise<LogEntry[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#readLog(hub, key, from)
      } catch (err) {
        const delay = CATCH_UP_READ_AGAIN_MS[attempt]
        if (delay === undefined || this.#stopped || !this.deps.peers().includes(hub)) throw err
        this.stats.catchUpReadRetries++
        await new Promise<void>((resolve) => this.deps.clock.setTimeout(resolve, delay).unref())
        if (this.#stopped) throw err
      }
    }
  }

  /** Where `hub`'s deliveries of `key` to this run of this hub began (`BeganRequest`). */
  async #began(hub: string, key: string): Promise<Offset | undefined> {
    const reply = await this.deps.bus.request(hub, { t: 'began', key }, this.#requestTimeoutMs)
    if (reply.t !== 'deliveries-began') throw new Error(`${hub} answered ${reply.t}`)
    return reply.first ?? undefined
  }

  async #requestLog(hub: string, key: string, from: Offset, limit: number, through?: Offset): Promise<LogRead> {
    const request: LogRequest = through ? { t: 'log', key, epoch: from.epoch, seq: from.seq, limit, through: [through.epoch, through.seq] } : { t: 'log', key, epoch: from.epoch, seq: from.seq, limit }
    const reply = await this.deps.bus.request(hub, request, this.#requestTimeoutMs)
    if (reply.t !== 'log-entries') throw new Error(`${hub} answered ${reply.t}`)
    return { entries: reply.entries.map((e) => ({ ...e, key, payload: Buffer.from(e.payload) })), oldest: reply.oldest ?? null }
  }

  /** Peers that must hear about `filter`: its key's owner, or every peer for a global filter. */
  #interestedPeersOf(filter: string): string[] {
    const c = classifyFilter(filter, this.deps.keyDepth)
    if (c.kind === 'local') return []
    if (c.kind === 'global') return [...this.deps.peers()]
    const owner = this.deps.ownerOf(c.key)
    return owner === undefined || owner === this.deps.self ? [] : [owner]
  }

  /**
   * `id`: a forwarded publish's id (a retry may bring it again); undefined for local ingress.
   * `via`: the ingress hub of a forwarded publish, which then waits for the replicas'
   * confirmations itself (`ReplicaConfirmations`): this resolves once the message is committed and
   * fanned out here and names those replicas in `confirmBy`. Otherwise it resolves once the
   * replicas have answered too.
   */
  async #sequence(key: string, id: string | undefined, message: { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }, via?: string, arrival = ++this.#arrivals, n?: number): Promise<Offset & { confirmBy?: string[] }> {
    const { sequencer } = this.deps
    this.#stallWatch?.check()
    if (!sequencer.owns(key)) {
      // A retry of this id may already be numbered, or waiting on this same take-over.
      const earlier = this.#seenBefore(key, id, message, via, arrival)
      if (earlier) return earlier
      // On the small side of a partition (or alone with dead peers): no take-over. Its epoch would
      // be chosen without the other side's, which may number the key in that same epoch meanwhile;
      // and whatever it numbered would come back at the heal, out of order (VerneMQ's
      // allow_publish_during_netsplit = off). The publish is retried until the ring is whole.
      if (this.#replicator.replicasFor(key) === null) throw this.#refuse(key, id, n, message.qos, `${key}: too few live hubs to take it over`)
      try {
        await this.#handoff.acquire(key)
      } catch (err) {
        if (!(err instanceof NotOwnerError)) throw err
        if (this.deps.ownerOf(key) !== this.deps.self) throw this.#refuse(key, id, n, message.qos, err.message)
        // Still the owner: later messages of the key wait for this one's retry.
        const retryId = this.#retryId(id, n)
        this.#keepFirst(key, retryId, via ?? this.deps.self, arrival)
        throw new RetryFirstError(key, retryId, err.message)
      }
      // Ownership may have moved on while we asked around.
      if (this.deps.ownerOf(key) !== this.deps.self) throw this.#refuse(key, id, n, message.qos)
    }
    // Checked again after the take-over: the first attempt of a retried forward may have been
    // numbered while both waited for it.
    const earlier = this.#seenBefore(key, id, message, via, arrival)
    if (earlier) return earlier
    // Leaving: nothing more is numbered here (the sender retries with the next owner).
    if (this.#quiescing) throw this.#refuse(key, id, n, message.qos)
    if (message.qos > 0 && this.#gaps.size > 0) {
      // An earlier publish of its run was refused here and has not come back: numbered now, this
      // one would go ahead of it. Refused too; the ingress retries them in order. (Checked
      // before its turn in line: there, held, it would pass that earlier one, not yet in line.)
      const origin = this.#originOf(id, n)
      if (origin && this.#gaps.earlierRefused(key, origin)) {
        this.stats.refusedBehindRefusal++
        throw this.#refuse(key, id, n, message.qos, `${key}: an earlier publish of this one's ingress run was refused and has not come back`)
      }
    }
    if (this.#holds.size > 0) {
      // The key numbers in line (`RetryHolds`) while this hub waits for retries of messages it could
      // not finish: this one waits its turn, then everything is checked again (ownership may
      // have moved meanwhile).
      const turn = this.#holds.turn(key, id, arrival, this.#originOf(id, n))
      if (turn) {
        this.stats.heldForRetries++
        try {
          await turn
          return await this.#sequence(key, id, message, via, arrival, n)
        } finally {
          this.#holds.leave(key, arrival)
        }
      }
      if (id !== undefined) this.#holds.released(key, id)
    }
    // Invariant 3 before numbering: a QoS ≥ 1 message nobody else could hold is not numbered (it
    // could not be acknowledged, and numbered it would reach subscribers ahead of its retry).
    const replicas = this.#replicator.replicasFor(key)
    if (message.qos > 0 && replicas === null) throw this.#refuse(key, id, n, message.qos, `${key}: too few live hubs to copy a message`)
    // Released in the turns since the take-over (superseded, or a stall): refused like any move.
    if (!sequencer.owns(key)) throw this.#refuse(key, id, n, message.qos)
    const { entry, committed } = sequencer.append({ key, topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain })
    const { epoch, seq } = entry
    // Every field from the start, in one literal: with a spread and fields added later (V8 shape
    // changes on every message), the owner spent 42-51 µs per message in the ring bench, 28-40 now.
    const seen: SeenPublish = { epoch, seq, fannedOut: true, stored: committed, arrival, done: undefined, copied: undefined }
    if (id !== undefined) this.#seen.remember(id, seen)
    const { ackable, through, confirmBy, copied } = this.#finish(key, id, entry, committed, message, via, replicas)
    seen.done = through
    seen.copied = copied
    this.#inFlight.add(through)
    const settled = (): void => { this.#inFlight.delete(through) }
    through.then(settled, settled)
    await ackable
    if (confirmBy.length > 0) return { epoch, seq, confirmBy }
    // Invariant 3 (and fencing: a replica refuses copies from a hub it does not see as the owner).
    if (message.qos > 0 && !(await copied)) {
      const retryId = this.#retryId(id, n)
      if (id === undefined) this.#seen.remember(retryId, seen)
      this.#keepFirst(key, retryId, via ?? this.deps.self, arrival)
      throw new UnreplicatedError(key, retryId)
    }
    return { epoch, seq }
  }

  /** Copies of forwarded publishes failed: each keeps its place for its retry (its ingress is told by the replicator). */
  #copiesFailed(entries: readonly ReplicaEntry[]): void {
    for (const e of entries) {
      if (e.qos === 0 || e.id === undefined || e.via === undefined) continue
      this.#keepFirst(e.key, e.id, e.via, this.#seen.get(e.id)?.arrival ?? ++this.#arrivals)
    }
  }

  /**
   * The id a retry is known by: a forwarded publish's own, or, for a local publish, the one its
   * forward would carry (`n`: its place among this hub's publishes, which every local call gives).
   */
  #retryId(id: string | undefined, n: number | undefined): string {
    if (id !== undefined) return id
    if (n === undefined) throw new TypeError('a local publish comes with its place (n)')
    return this.#ingress.idOf(n)
  }

  /** Where a publish comes from (`RetryHolds` orders a key's line by it, `RefusalGaps` its run's refusals): its id's origin, or this hub's run for a local publish. */
  #originOf(id: string | undefined, n: number | undefined): PublishOrigin | undefined {
    if (id !== undefined) return originOf(id)
    return n === undefined ? undefined : { source: this.#ingress.source, n }
  }

  /** The message `id` of `key` could not be finished now: its retry goes before the key's later messages. */
  #keepFirst(key: string, id: string, via: string, arrival: number): void {
    if (this.#holds.hold(key, id, via, arrival, originOf(id))) this.stats.retriesKeptFirst++
    if (this.#gaps.size > 0) this.#cameBack(key, id)
  }

  /**
   * Refuses a publish without keeping its place (the key is not this hub's in its view, too few
   * live hubs, leaving): a QoS ≥ 1 publish's run's later QoS ≥ 1 publishes of the key are refused
   * until it comes back (`RefusalGaps`; MQTT orders a client's messages per topic and QoS).
   */
  #refuse(key: string, id: string | undefined, n: number | undefined, qos: 0 | 1 | 2, message?: string): NotOwnerError {
    this.#noteRefused(key, id, n, qos)
    return new NotOwnerError(key, message)
  }

  #noteRefused(key: string, id: string | undefined, n: number | undefined, qos: 0 | 1 | 2): void {
    const origin = qos > 0 ? this.#originOf(id, n) : undefined
    if (origin) this.#gaps.refused(key, origin)
  }

  /**
   * A publish arrives whose ingress has finished every publish of `key` before `first` in its run
   * (`PublishRequest.first`): refusals and holds of those stop waiting for them to come back.
   */
  #finishedBefore(key: string, id: string | undefined, n: number | undefined, first: number | undefined): void {
    if (first === undefined || (this.#gaps.size === 0 && this.#holds.size === 0)) return
    const origin = this.#originOf(id, n)
    if (!origin) return
    this.stats.endedByIngress += this.#gaps.finishedBefore(key, origin.source, first) + this.#holds.finishedBefore(key, origin.source, first)
  }

  /** A publish refused here before has its place kept, or is being answered as a retry: it is back. */
  #cameBack(key: string, id: string): void {
    const origin = originOf(id)
    if (origin) this.#gaps.through(key, origin)
  }

  /**
   * Before this hub leaves the ring: it numbers nothing more (publishes go on to the next owners
   * once the ring has changed) and resolves once every message it numbered is committed,
   * replicated and fanned out. Left before that, its last messages could still be on their way
   * to the replicas when the other hubs read what they missed from them, and never reach their
   * subscribers.
   */
  async quiesce(): Promise<void> {
    this.#quiescing = true
    await Promise.allSettled([...this.#inFlight])
  }

  /**
   * A forwarded publish this hub numbered already (a retry: the ingress hub missed the answer):
   * the same offset, once the first attempt is through (committed, replicated, fanned out). One
   * whose copies failed is copied again; if its epoch was given up since, it is numbered
   * anew (the first number was never acknowledged).
   */
  #seenBefore(key: string, id: string | undefined, message: IngressMessage, via: string | undefined, arrival: number): Promise<Offset & { confirmBy?: string[] }> | undefined {
    if (id === undefined) return undefined
    const seen = this.#seen.get(id)
    if (!seen) return undefined
    this.stats.duplicates++
    // Its answer takes several turns; a later message of the key arriving meanwhile would find a
    // take-over done first and be numbered ahead of it, were this one numbered anew (its kept
    // place gone: expired, or dropped when its ingress was seen dead and back). So they wait
    // behind it, and its kept place, if any, lasts until it is answered.
    this.#holds.enter(key, arrival, id, originOf(id))
    // In line now: its run's later publishes wait behind it (a refusal of it, earlier, no longer counts).
    if (this.#gaps.size > 0) this.#cameBack(key, id)
    return (async () => {
      // Not stored here (its commit failed): the retry fails as the first attempt did.
      if (seen.stored) await seen.stored
      if (seen.done) await seen.done.catch(() => { /* the first attempt's own error went to its caller */ })
      if (!seen.fannedOut) await this.#fanOutCopy(key, seen)
      if (seen.copied !== undefined && !(await seen.copied)) {
        if (!(await this.#copyAgain(key, seen, id))) {
          // Forgotten only if still this first attempt: another retry of it, sent before this one
          // was answered, may have numbered it anew meanwhile, and this one then gets that answer.
          if (this.#seen.get(id) === seen) this.#seen.forget(id)
          // Numbered anew in this attempt, in the first attempt's place while its hold lasts (it
          // does while this retry is being answered: `RetryHolds.enter`).
          return this.#sequence(key, id, message, via, arrival)
        }
        this.#holds.released(key, id)
      }
      return { epoch: seen.epoch, seq: seen.seq }
    })().finally(() => this.#holds.leave(key, arrival))
  }

  /**
   * A message numbered here whose copies failed, published again by its ingress: copied again
   * (same `(epoch, seq)`), true once enough replicas hold it; UnreplicatedError if not. False
   * when its epoch was given up since (replicas would refuse it): it is to be numbered anew (at
   * least once: subscribers may see it twice).
   */
  async #copyAgain(key: string, seen: SeenPublish, id: string): Promise<boolean> {
    if (this.deps.sequencer.offsetOf(key)?.epoch !== seen.epoch) return false
    const [entry] = this.deps.topicLog.since(key, { epoch: seen.epoch, seq: seen.seq - 1 }, 1)
    if (!entry || entry.epoch !== seen.epoch || entry.seq !== seen.seq) throw new UnreplicatedError(key, id)
    const copied = this.#replicator.replicate(entry, id).settled
    seen.copied = copied
    if (!(await copied)) throw new UnreplicatedError(key, id)
    return true
  }

  /**
   * After numbering: retained store, replication, fan-out in order. `ackable` resolves when the
   * ingress may acknowledge, once the replicas in `confirmBy` have confirmed to it too; `through`
   * when everything is done here.
   */
  #finish(key: string, id: string | undefined, entry: LogEntry, committed: Promise<void>, message: { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }, via: string | undefined, replicas: string[] | null): { ackable: Promise<void>, through: Promise<void>, confirmBy: string[], copied: Promise<boolean> } {
    const retainedSaved = message.retain ? this.deps.retained.store({ topic: message.topic, payload: message.payload, qos: message.qos }) : undefined
    this.stats.sequenced++
    const delivery = { key, epoch: entry.epoch, seq: entry.seq, topic: message.topic, payload: message.payload, qos: message.qos }
    if (message.qos === 0 && !message.retain) {
      // At most once: numbered and logged like the rest, but delivered without waiting for the
      // commit or the replicas (nothing is acknowledged, so nothing can be acknowledged early).
      committed.catch((err: unknown) => this.deps.log[isStoreFailure(err) ? 'debug' : 'error']({ err, key }, 'topic log write failed'))
      const { settled } = this.#replicator.replicate(entry, id, undefined, replicas)
      const fannedOut = this.#fanOutInOrder(key, undefined, delivery)
      return { ackable: fannedOut, through: fannedOut, confirmBy: [], copied: settled }
    }
    const replication = this.#replicator.replicate(entry, id, via, replicas)
    const fannedOut = this.#fanOutInOrder(key, retainedSaved ? Promise.all([committed, retainedSaved]) : committed, delivery)
    const through = Promise.all([fannedOut, replication.settled]).then(() => undefined)
    // Invariant 3: acknowledged once the owner and a replica hold it (`copied`, checked by the
    // caller). With `via`, the ingress hub waits for the replicas' own word: one hop less than
    // this hub relaying it.
    if (via === undefined || replication.to.length === 0) return { ackable: through, through, confirmBy: [], copied: replication.settled }
    return { ackable: fannedOut, through, confirmBy: replication.to, copied: replication.settled }
  }

  /**
   * The retry of a publish this hub holds only as a replica copy: its owner may have died before
   * sending it to subscribers, so send it now (at-least-once: some may get it twice).
   */
  async #fanOutCopy(key: string, seen: SeenPublish): Promise<void> {
    seen.fannedOut = true
    const [entry] = this.deps.topicLog.since(key, { epoch: seen.epoch, seq: seen.seq - 1 }, 1)
    if (!entry || entry.seq !== seen.seq) return
    await this.#fanOut({ key, epoch: entry.epoch, seq: entry.seq, topic: entry.topic, payload: entry.payload, qos: entry.qos })
  }

  /** Replication lag (`Replicator.lag`). */
  replication(): { inflight: number, lagMs: number } { return this.#replicator.lag() }

  /** Retained messages held here for keys this hub owns (replicas hold copies of others'). */
  async #ownedRetained(filters: readonly string[]): Promise<RetainedMessage[]> {
    const all = await this.deps.retained.matching(filters)
    return all.filter((m) => {
      const key = keyOf(m.topic, this.deps.keyDepth)
      return key !== null && this.deps.ownerOf(key) === this.deps.self
    })
  }

  /**
   * Fans messages of one key out in the order they were numbered, each once `ready` (its commit,
   * and its retained write) has settled: messages wait for different things (a retained one for
   * one more write, a QoS 0 one for nothing), and without this a later one could overtake an
   * earlier one (invariant 2). Only the starts are ordered; one fan-out does not wait for the
   * previous one to finish. With nothing pending for the key and nothing to wait for, at once.
   */
  #fanOutInOrder(key: string, ready: Promise<unknown> | undefined, d: Delivery): Promise<void> {
    let queue = this.#fanOutQueues.get(key)
    if (!queue && !ready) return this.#fanOut(d)
    if (!queue) this.#fanOutQueues.set(key, queue = { tail: Promise.resolve(), pending: 0 })
    const q = queue
    q.pending++
    let fannedOut: Promise<void> = Promise.resolve()
    const turn = q.tail.then(() => ready).then(() => { fannedOut = this.#fanOut(d) }).finally(() => {
      if (--q.pending === 0 && this.#fanOutQueues.get(key) === q) this.#fanOutQueues.delete(key)
    })
    q.tail = turn.catch(() => { /* the publisher gets the error; later messages go on */ })
    return turn.then(() => fannedOut)
  }

  /**
   * Once to each interested peer, and to this hub's own subscribers. A QoS 1/2 message is
   * acknowledged only once this hub's persistent sessions have it queued (invariant 3 for local
   * subscribers); the live hand-over goes on in the background, in call order, and only when more
   * than BACKLOG_LIMIT are still being handed over does the publisher wait (for half of them).
   */
  async #fanOut(d: Delivery): Promise<void> {
    const peers = this.#interest.peersFor(d.topic)
    if (peers.length > 0) {
      const frame: DeliverMessage = { t: 'deliver', ...d }
      for (const peer of peers) {
        // Owed earlier messages of the key: this one follows them from the log, in order.
        if (this.#replay.isBehind(peer, d.key)) continue
        // What came before it for this peer, unless it was the message just before (SentOffsets).
        const from = this.#sent.fromFor(peer, d)
        if (this.deps.bus.send(peer, from ? { ...frame, from } : frame)) {
          this.stats.deliveriesSent++
          this.#sent.sent(peer, d, from)
        } else {
          this.stats.deliveriesDropped++
          this.#replay.dropped(peer, d.key, { epoch: d.epoch, seq: d.seq - 1 })
        }
      }
    }
    const local = this.#cursors.deliver(this.deps.self, d)
    if (!local) return
    if (d.qos > 0 && local.queued) await local.queued
    if (local.backlog > BACKLOG_LIMIT) await local.drained()
  }

  #onMessage(from: string, m: RouterMessage): void {
    if (m.t === 'deliver') {
      this.stats.deliveriesReceived++
      this.#cursors.deliver(from, { key: m.key, epoch: m.epoch, seq: m.seq, topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos }, m.from)
    } else if (m.t === 'replica-confirm') this.#ingress.confirmations.confirmed(from, m.ids)
    else if (m.t === 'copies-failed') this.#ingress.confirmations.failed(m.ids)
    else if (m.t === 'barrier' || m.t === 'barrier-ack') this.#onBarrier(from, m)
    else if (m.t !== 'interest') this.#listeners.get(m.t)?.(from, m)
    else {
      if (m.op === 'replace') this.#interest.replace(from, m.filters)
      else if (m.op === 'add') this.#interest.add(from, m.filters)
      else this.#interest.remove(from, m.filters)
      this.#replay.back(from)
      for (const check of [...this.#interestWaiters]) check()
    }
  }

  /**
   * Resolves once every peer has told this hub its interest, or after `requestTimeoutMs`. A hub
   * taking a key over waits for it before numbering: peers announce their interest when they see
   * a hub join, and a hub that has just joined and acknowledged a message before hearing from a
   * peer would never send that message to the peer's subscribers. A peer still silent at the
   * deadline (its announcement lost) is logged and not waited for again: its periodic refresh
   * brings its interest.
   */
  #interestKnown(): Promise<void> {
    const silent = (): string[] => this.deps.peers().filter((p) => !this.#interest.heardFrom(p) && !this.#interestGivenUp.has(p))
    if (silent().length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const finish = (): void => {
        this.deps.clock.clearTimeout(timer)
        const i = this.#interestWaiters.indexOf(check)
        if (i >= 0) this.#interestWaiters.splice(i, 1)
        resolve()
      }
      const check = (): void => { if (silent().length === 0) finish() }
      const timer = this.deps.clock.setTimeout(() => {
        const peers = silent()
        for (const p of peers) this.#interestGivenUp.add(p)
        if (peers.length > 0) this.deps.log.warn({ peers }, 'taking keys over without these peers\' interest; their next refresh brings it')
        finish()
      }, this.#requestTimeoutMs)
      this.#interestWaiters.push(check)
    })
  }

  #onBarrier(from: string, m: BarrierMessage): void {
    if (m.t === 'barrier') {
      this.deps.bus.send(from, { t: 'barrier-ack', id: m.id })
      return
    }
    const done = this.#barriers.get(m.id)
    this.#barriers.delete(m.id)
    done?.()
  }

  async #onRequest(from: string, r: RouterRequest): Promise<RouterReply> {
    if (r.t === 'interest') {
      this.#onMessage(from, r)
      return { t: 'interest-ok' }
    }
    if (r.t === 'replicate') {
      // Fencing (invariant 2): copies only from the hub this hub's ring names the owner of each
      // key. A stale owner (paused past its death, or cut off on the other side of a partition)
      // gets no copy confirmed, so it acknowledges nothing the new owner would not have.
      // Nor copies in an epoch older than one this hub knows for the key: another owner has
      // numbered it since (the sender was cut off or paused meanwhile, and is back).
      const agreed = (e: ReplicaEntry): boolean => this.deps.ownerOf(e.key) === from && e.epoch >= this.deps.topicLog.knownEpoch(e.key)
      const refused = r.entries.find((e) => !agreed(e))
      if (!refused) {
        await this.#replicator.store(r)
        return { t: 'ok' }
      }
      this.stats.refusedNotOwner++
      // The batch is refused, but the copies of keys whose owner this hub agrees on are kept
      // (unconfirmed: their publishes are retried as the batch's): refused with the others, they
      // left a hole in this log while the next batch was taken. At a heal, when this hub saw a
      // returning hub before the owner did, a key that never moved lost (1,462) here and kept
      // (1,463); a subscriber hub that read the key from here after the owner re-took it got 463
      // before 462 (isolate fault test, 1 run in 4).
      const kept = r.entries.filter(agreed)
      if (kept.length > 0) await this.#replicator.store({ ...r, entries: kept }, false)
      const foreign = r.entries.find((e) => this.deps.ownerOf(e.key) !== from)
      if (foreign) return { t: 'failed', reason: `${from} is not the owner of ${foreign.key} for ${this.deps.self}` }
      // `not-owner`: the sender stops sequencing the key and takes it over again (`superseded`).
      return { t: 'not-owner', key: refused.key }
    }
    if (r.t === 'log') {
      const through = r.through ? { epoch: r.through[0], seq: r.through[1] } : undefined
      // One more with `through`: such a read begins with the asker's own offset (`readFrom`).
      const { entries, oldest } = this.#logHere(r.key, { epoch: r.epoch, seq: r.seq }, Math.min(r.limit, through ? MAX_LOG_READ + 1 : MAX_LOG_READ), through)
      return { t: 'log-entries', entries: entries.map(({ key: _key, ...e }) => e), oldest }
    }
    if (r.t === 'began') return { t: 'deliveries-began', first: this.#sent.firstOf(from, r.key) ?? null }
    if (r.t === 'retained') return { t: 'retained-messages', messages: await this.#ownedRetained(r.filters) }
    if (r.t === 'handoff') {
      // Handed back a key numbered elsewhere in an epoch at least this hub's: it was superseded.
      const held = this.deps.sequencer.offsetOf(r.key)
      if (held && held.epoch <= r.epoch) this.#superseded(r.key)
    }
    if (r.t === 'key-state' || r.t === 'handoff') return this.#handoff.onRequest(r)
    if (r.t === 'publish-batch') {
      const results = await Promise.all(r.items.map((item) => this.#publishHere(item, from).catch((err: unknown): PublishReply => {
        if (err instanceof NotOwnerError) return { t: 'not-owner', key: err.key }
        return { t: 'failed', reason: err instanceof Error ? err.message : String(err) }
      })))
      return { t: 'published-batch', results }
    }
    if (r.t !== 'publish') {
      const service = this.#services.get(r.t)
      if (!service) return { t: 'failed', reason: `this hub does not serve ${r.t}` }
      return service(from, r)
    }
    return this.#publishHere(r, from)
  }

  /**
   * A forwarded publish: numbered here if this hub owns its key (taking the key over first if
   * needed: the item waits, so the key's publishes keep their arrival order), else refused (the
   * sender retries with the owner it sees).
   */
  async #publishHere(r: Omit<PublishRequest, 't'>, from: string): Promise<PublishReply> {
    const key = keyOf(r.topic, this.deps.keyDepth)
    if (key !== null) this.#finishedBefore(key, r.id, undefined, r.first)
    // Fencing: only the hub the ring names as owner sequences; the sender retries elsewhere.
    if (key === null || this.deps.ownerOf(key) !== this.deps.self || this.#quiescing) {
      this.stats.refusedNotOwner++
      if (key !== null) this.#noteRefused(key, r.id, undefined, r.qos)
      return { t: 'not-owner', key: key ?? r.topic }
    }
    const { epoch, seq, confirmBy } = await this.#sequence(key, r.id, { topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos, retain: r.retain }, from)
    return confirmBy === undefined ? { t: 'published', epoch, seq } : { t: 'published', epoch, seq, confirmBy }
  }
}
