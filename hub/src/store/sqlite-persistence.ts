import { Readable } from 'node:stream'
import type { Logger } from '../base/log.js'
import type { HubDb } from './db.js'
import { decodePacket, encodePacket, toAedesPacket, type PacketLike } from './packet-codec.js'
import {
  prepareStatements, subscriptionFromRow, subscriptionToRow,
  type PersistenceStatements, type Subscription, type SubscriptionRecord, type SubscriptionRow,
} from './persistence-statements.js'
import { createSubscriptionTrie, createTopicMatcher, type TrieSubscription } from './topic-tries.js'
import { OfflineQueues } from './offline-queues.js'
import { earliest, isDollarTopic, snapshotStream, startsWithWildcard } from './persistence-helpers.js'

export type { PacketLike } from './packet-codec.js'
export type { TrieSubscription } from './topic-tries.js'
export type { Subscription } from './persistence-statements.js'

/** What the persistence needs of a client and of the broker (aedes passes its own objects). */
export interface PersistenceClient { id: string }
export interface PersistenceBroker {
  id: string
  /** aedes' connected clients by id (absent in aedes-persistence's test broker). */
  clients?: Record<string, unknown>
}

export interface SqlitePersistenceOptions {
  db: HubDb
  log: Logger
  /** Close `db` in destroy(). Default false: the caller owns the db and closes it. */
  ownsDb?: boolean
  /** Most messages queued for one disconnected client; 0 = unlimited (default). */
  maxQueuedMessages?: number
  /** Called for each message not queued because the client's queue is full. */
  onQueueFull?: (clientId: string) => void
}

/**
 * aedes' session persistence on SQLite, with the semantics of aedes-persistence's async memory
 * persistence (asyncPersistence.js) and passing its abstract suite. Every change goes through
 * `db.write`, so its promise resolves only once committed (group commit). What aedes reads on
 * every PUBLISH — the subscription trie and the retained messages — is also kept in memory,
 * loaded in setup(), so matching never touches disk. If a commit fails, the in-memory view keeps
 * the change while the file does not: the write's promise rejects and the error is counted.
 */
export class SqlitePersistence {
  readonly #db: HubDb
  readonly #log: Logger
  readonly #ownsDb: boolean
  readonly #sql: PersistenceStatements
  readonly #retained = new Map<string, PacketLike>()
  readonly #queues: OfflineQueues
  readonly #onQueueFull: (clientId: string) => void
  readonly #subscriptions = new Map<string, Map<string, SubscriptionRecord>>()
  readonly #trie = createSubscriptionTrie()
  /** QoS > 0 subscriptions per filter (those that queue for a disconnected client). */
  readonly #queueingFilters = new Map<string, number>()
  #broker: PersistenceBroker | undefined
  #destroyed = false

  constructor(opts: SqlitePersistenceOptions) {
    this.#db = opts.db
    this.#log = opts.log
    this.#ownsDb = opts.ownsDb ?? false
    this.#sql = prepareStatements(opts.db.sqlite)
    this.#queues = new OfflineQueues(opts.maxQueuedMessages ?? 0)
    this.#onQueueFull = opts.onQueueFull ?? (() => {})
  }

  /** The broker given to setup(); aedes-persistence's tests read and change its id. */
  get broker(): PersistenceBroker | undefined { return this.#broker }

  /** Number of retained messages (topics with one), for $SYS and the admin API. */
  get retainedCount(): number { return this.#retained.size }

  // aedes requires setup to be an AsyncFunction (checked by constructor name).
  async setup(broker: PersistenceBroker): Promise<void> {
    this.#broker = broker
    this.#retained.clear()
    this.#queues.clear()
    this.#subscriptions.clear()
    this.#trie.clear()
    this.#queueingFilters.clear()
    this.#db.read(() => {
      for (const row of this.#sql.retainedAll.iterate()) {
        const packet = decodePacket(row)
        if (packet.topic !== undefined) this.#retained.set(packet.topic, packet)
      }
      for (const row of this.#sql.subscriptionsAll.iterate()) this.#remember(row.client_id, row.topic, subscriptionFromRow(row))
      this.#queues.load(this.#sql.outgoingCounts.iterate())
    })
    this.#log.debug({ retained: this.#retained.size, clients: this.#subscriptions.size }, 'persistence: loaded')
  }

  async storeRetained(pkt: PacketLike): Promise<void> {
    const packet = { ...pkt } // the caller may change its object later
    const topic = packet.topic ?? ''
    if ((packet.payload?.length ?? 0) === 0) {
      this.#retained.delete(topic) // [MQTT-3.3.1-10] an empty retained message clears the topic
      await this.#db.writeOne(() => this.#sql.retainedDelete.run(topic))
    } else {
      this.#retained.set(topic, packet)
      await this.#db.writeOne(() => this.#sql.retainedPut.run(encodePacket(packet)))
    }
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(this.#retainedMatching(pattern))
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    const matching = (pattern: string): Generator<PacketLike> => this.#retainedMatching(pattern)
    return Readable.from((function* () {
      for (const pattern of patterns) yield* matching(pattern)
    })())
  }

  async addSubscriptions(client: PersistenceClient, subs: Subscription[]): Promise<void> {
    const rows: SubscriptionRow[] = []
    if (!this.#subscriptions.has(client.id)) this.#subscriptions.set(client.id, new Map())
    for (const sub of subs) {
      const record: SubscriptionRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl }
      // Kept per client (aedes restores it on reconnect) but not in the trie, as in aedes-persistence.
      if (sub.subscriptionIdentifier !== undefined) record.subscriptionIdentifier = sub.subscriptionIdentifier
      this.#remember(client.id, sub.topic, record)
      rows.push(subscriptionToRow(client.id, sub.topic, record))
    }
    if (rows.length === 0) return
    await this.#db.write(() => { for (const row of rows) this.#sql.subscriptionPut.run(row) })
  }

  async removeSubscriptions(client: PersistenceClient, topics: string[]): Promise<void> {
    const stored = this.#subscriptions.get(client.id)
    if (!stored) return
    const removed: string[] = []
    for (const topic of topics) {
      const sub = stored.get(topic)
      if (sub === undefined) continue
      if (sub.qos > 0) this.#forget(client.id, topic)
      stored.delete(topic)
      removed.push(topic)
    }
    if (stored.size === 0) this.#subscriptions.delete(client.id)
    if (removed.length === 0) return
    await this.#db.write(() => { for (const topic of removed) this.#sql.subscriptionDelete.run(client.id, topic) })
  }

  async subscriptionsByClient(client: PersistenceClient): Promise<Subscription[]> {
    const stored = this.#subscriptions.get(client.id)
    return stored ? [...stored].map(([topic, sub]) => ({ topic, ...sub })) : []
  }

  async countOffline(): Promise<{ subsCount: number, clientsCount: number }> {
    return { subsCount: this.#trie.subscriptionsCount, clientsCount: this.#subscriptions.size }
  }

  async subscriptionsByTopic(topic: string): Promise<TrieSubscription[]> {
    const subs = this.#trie.match(topic)
    // [MQTT-4.7.2-1] aedes drops these itself only for $SYS/; do it for every $ topic.
    return isDollarTopic(topic) ? subs.filter((sub) => !startsWithWildcard(sub.topic)) : subs
  }

  async cleanSubscriptions(client: PersistenceClient): Promise<void> {
    const stored = this.#subscriptions.get(client.id)
    if (!stored) return // the common case: a clean session that never had any
    for (const [topic, sub] of stored) {
      if (sub.qos > 0) this.#forget(client.id, topic)
    }
    this.#subscriptions.delete(client.id)
    await this.#db.write(() => this.#sql.subscriptionsDeleteClient.run(client.id))
  }

  /** Whether this hub holds a persistent session for the client (subscriptions or queued messages). */
  hasSession(clientId: string): boolean {
    return this.#subscriptions.has(clientId) || this.#queues.count(clientId) > 0
  }

  /** Filters with at least one QoS > 0 persistent subscription: what queues offline messages. */
  queueingFilters(): string[] { return [...this.#queueingFilters.keys()] }

  /**
   * Called when a filter gets its first QoS > 0 persistent subscription (`present`) or loses its
   * last one. A hub in a ring keeps interest in such filters while their clients are away.
   */
  protected queueingFilterChanged(_filter: string, _present: boolean): void {}

  /**
   * Removes a client's whole session (subscriptions, queued and in-flight messages, QoS 2
   * packets awaiting PUBREL, will) and returns what a hub taking the session over needs: the
   * subscriptions and the queue, oldest first. One commit; a message queued for the client after
   * this call starts a new queue.
   */
  async exportSession(client: PersistenceClient): Promise<{ subscriptions: Subscription[], packets: PacketLike[] }> {
    const subscriptions = await this.subscriptionsByClient(client)
    const stored = this.#subscriptions.get(client.id)
    if (stored) for (const [topic, sub] of stored) if (sub.qos > 0) this.#forget(client.id, topic)
    this.#subscriptions.delete(client.id)
    const packets = await this.#db.write(() => {
      const rows = this.#sql.outgoingByClient.all(client.id)
      for (const row of rows) this.#sql.outgoingDelete.run(row.seq)
      this.#sql.subscriptionsDeleteClient.run(client.id)
      this.#sql.incomingDeleteClient.run(client.id)
      this.#sql.willDelete.run(client.id)
      return rows.map(decodePacket)
    })
    for (let i = 0; i < packets.length; i++) this.#queues.removed(client.id)
    return { subscriptions, packets }
  }

  /**
   * Adds a session taken over from elsewhere: its subscriptions, and its queued messages ahead of
   * any already queued here for the client (those arrived later). Message ids are dropped: the
   * packets are sent afresh, as queued ones are.
   */
  async importSession(client: PersistenceClient, session: { subscriptions: Subscription[], packets: PacketLike[] }): Promise<void> {
    await this.addSubscriptions(client, session.subscriptions)
    if (session.packets.length === 0) return
    const earlier = session.packets.map((p) => {
      const packet = toAedesPacket(p)
      delete packet.messageId
      return encodePacket(packet)
    })
    // The same message may be in both queues (queued here once this hub had the interest, and
    // there until the handover): the earlier queue's copy stays, in its place.
    const origin = (row: { broker_id: string | null, broker_counter: number | null }): string => `${row.broker_id ?? ''}\u0000${row.broker_counter ?? ''}`
    const taken = new Set(earlier.filter((row) => row.broker_id !== null && row.broker_counter !== null).map(origin))
    const added = await this.#db.write(() => {
      const later = this.#sql.outgoingByClient.all(client.id)
      for (const { seq } of later) this.#sql.outgoingDelete.run(seq)
      for (const row of earlier) this.#sql.outgoingPut.run({ ...row, client_id: client.id })
      let kept = 0
      for (const { seq: _seq, ...row } of later) {
        if (taken.has(origin(row))) continue
        this.#sql.outgoingPut.run({ ...row, client_id: client.id })
        kept++
      }
      return earlier.length + kept - later.length
    })
    for (let i = 0; i < added; i++) this.#queues.added(client.id)
    for (let i = 0; i > added; i--) this.#queues.removed(client.id)
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: PacketLike): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet)
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: PacketLike): Promise<void> {
    const connected = this.#broker?.clients ?? {}
    const admitted = subs.filter((sub) => this.#queues.admits(sub.clientId, connected[sub.clientId] !== undefined))
    for (const sub of subs) if (!admitted.includes(sub)) this.#onQueueFull(sub.clientId)
    if (admitted.length === 0) return
    const row = encodePacket(toAedesPacket(packet))
    await this.#db.write(() => {
      for (const sub of admitted) {
        this.#sql.outgoingPut.run({ ...row, client_id: sub.clientId })
        this.#queues.added(sub.clientId)
      }
    })
  }

  /** Assigns a messageId to a queued packet, or replaces it (PUBLISH → PUBREL). */
  async outgoingUpdate(client: PersistenceClient, packet: PacketLike): Promise<void> {
    const brokerId = packet.brokerId ?? null
    const messageId = packet.messageId ?? null
    await this.#db.write(() => {
      const sameOrigin = this.#sql.outgoingSameOrigin.get(client.id, brokerId, packet.brokerCounter ?? null)
      const sameMessageId = this.#sql.outgoingSameMessageId.get(client.id, messageId, brokerId)
      const first = earliest(sameOrigin, sameMessageId)
      if (!first) throw new Error('no such packet')
      if (first === sameOrigin) this.#sql.outgoingSetMessageId.run(messageId, first.seq)
      else this.#sql.outgoingReplace.run({ ...encodePacket(packet), seq: first.seq })
    })
  }

  /** Removes and returns the first queued packet with this messageId (acknowledged). */
  async outgoingClearMessageId(client: PersistenceClient, packet: PacketLike): Promise<PacketLike | undefined> {
    // aedes also clears never-sent packets (messageId undefined); NULL then matches NULL, like
    // `undefined === undefined` in the memory persistence.
    const messageId = packet.messageId ?? null
    if (this.#queues.count(client.id) === 0) return undefined // every clean-session PUBACK
    const { brokerId, brokerCounter } = packet
    return this.#db.write(() => {
      // aedes also clears a queued message it skips as already delivered (same brokerId and a
      // counter not above the last one the client got); that packet carries a fresh messageId,
      // so its unsent queued copy is found by origin instead.
      // Without an unsent copy there is nothing to clear: a NULL messageId would match some
      // other message still waiting to be sent.
      const hasOrigin = typeof brokerId === 'string' && typeof brokerCounter === 'number'
      const row = hasOrigin ? this.#sql.outgoingUnsentSameOrigin.get(client.id, brokerId, brokerCounter) ?? (messageId === null ? undefined : this.#sql.outgoingFirstByMessageId.get(client.id, messageId))
        : this.#sql.outgoingFirstByMessageId.get(client.id, messageId)
      if (!row) return undefined
      this.#sql.outgoingDelete.run(row.seq)
      this.#queues.removed(client.id)
      return decodePacket(row)
    })
  }

  /** A snapshot of the client's queue, oldest first. */
  outgoingStream(client: PersistenceClient): Readable {
    return snapshotStream(() => this.#db.read(() => this.#sql.outgoingByClient.all(client.id)).map(decodePacket))
  }

  /** The client's queued rows not sent yet (no messageId), oldest first, with their position. */
  outgoingUnsent(client: PersistenceClient): Array<{ seq: number, packet: PacketLike }> {
    return this.#db.read(() => this.#sql.outgoingUnsent.all(client.id)).map((row) => ({ seq: row.seq, packet: decodePacket(row) }))
  }

  /** The client's queued rows, oldest first, with their position. */
  outgoingRows(client: PersistenceClient): Array<{ seq: number, packet: PacketLike }> {
    return this.#db.read(() => this.#sql.outgoingByClient.all(client.id)).map((row) => ({ seq: row.seq, packet: decodePacket(row) }))
  }

  async incomingStorePacket(client: PersistenceClient, packet: PacketLike): Promise<void> {
    const stored = toAedesPacket(packet)
    stored.messageId = packet.messageId
    await this.#db.writeOne(() => this.#sql.incomingPut.run({ ...encodePacket(stored), client_id: client.id }))
  }

  async incomingGetPacket(client: PersistenceClient, packet: PacketLike): Promise<PacketLike> {
    const row = this.#db.read(() => this.#sql.incomingGet.get(client.id, packet.messageId ?? null))
    if (!row) throw new Error('no such packet')
    return decodePacket(row)
  }

  async incomingDelPacket(client: PersistenceClient, packet: PacketLike): Promise<void> {
    await this.#db.write(() => {
      if (this.#sql.incomingDelete.run(client.id, packet.messageId ?? null).changes === 0) throw new Error('no such packet')
    })
  }

  /** [MQTT-3.1.2-6] a clean session drops the QoS 2 packets awaiting PUBREL. */
  async cleanIncoming(client: PersistenceClient): Promise<void> {
    // Called on every clean CONNECT: look first, so the usual case costs no commit.
    if (this.#db.read(() => this.#sql.incomingAny.get(client.id)) === undefined) return
    await this.#db.write(() => this.#sql.incomingDeleteClient.run(client.id))
  }

  async putWill(client: PersistenceClient, packet: PacketLike): Promise<void> {
    if (!this.#broker) throw new Error('persistence: putWill before setup')
    packet.brokerId = this.#broker.id
    packet.clientId = client.id
    await this.#db.write(() => this.#sql.willPut.run({ ...encodePacket(packet), client_id: client.id }))
  }

  async getWill(client: PersistenceClient): Promise<PacketLike | undefined> {
    const row = this.#db.read(() => this.#sql.willGet.get(client.id))
    return row ? decodePacket(row) : undefined
  }

  async delWill(client: PersistenceClient): Promise<PacketLike | undefined> {
    // Called on every CONNECT: look first, so a client without a will costs no commit.
    const row = this.#db.read(() => this.#sql.willGet.get(client.id))
    if (!row) return undefined
    await this.#db.write(() => this.#sql.willDelete.run(client.id))
    return decodePacket(row)
  }

  /** Wills of brokers not in `brokers` (those still alive), for aedes to publish. */
  streamWill(brokers: Record<string, unknown> = {}): Readable {
    return snapshotStream(() => this.#db.read(() => this.#sql.willsAll.all()).map(decodePacket)
      .filter((will) => !brokers[will.brokerId ?? '']))
  }

  getClientList(topic: string): Readable {
    const clients = [...this.#subscriptions].filter(([, subs]) => subs.has(topic)).map(([clientId]) => clientId)
    return Readable.from(clients)
  }

  /** Commits what is pending; closes the db only if `ownsDb`. A second call throws, like aedes-persistence. */
  async destroy(): Promise<void> {
    if (this.#destroyed) throw new Error('destroyed called twice!')
    this.#destroyed = true
    this.#retained.clear()
    this.#queues.clear()
    this.#subscriptions.clear()
    this.#trie.clear()
    this.#queueingFilters.clear()
    if (this.#db.closed) return
    if (this.#ownsDb) this.#db.close()
    else this.#db.flush()
  }

  /** Applies one subscription to the in-memory view (per-client map and QoS > 0 trie). */
  #remember(clientId: string, topic: string, record: SubscriptionRecord): void {
    let stored = this.#subscriptions.get(clientId)
    if (!stored) this.#subscriptions.set(clientId, stored = new Map())
    const previous = stored.get(topic)
    // QoS 0 subscriptions are restored on reconnect but never queue offline messages.
    if (record.qos > 0) {
      this.#trie.add(topic, { clientId, topic, qos: record.qos, rh: record.rh, rap: record.rap, nl: record.nl })
      if (previous === undefined || previous.qos === 0) this.#countQueueing(topic, +1)
    } else if (previous !== undefined && previous.qos > 0) {
      this.#forget(clientId, topic)
    }
    stored.set(topic, record)
  }

  /** Takes one QoS > 0 subscription out of the trie. */
  #forget(clientId: string, topic: string): void {
    this.#trie.remove(topic, { clientId, topic })
    this.#countQueueing(topic, -1)
  }

  #countQueueing(filter: string, delta: 1 | -1): void {
    const n = (this.#queueingFilters.get(filter) ?? 0) + delta
    if (n > 0) this.#queueingFilters.set(filter, n)
    else this.#queueingFilters.delete(filter)
    if (n === 1 && delta === 1) this.queueingFilterChanged(filter, true)
    else if (n === 0) this.queueingFilterChanged(filter, false)
  }

  * #retainedMatching(pattern: string): Generator<PacketLike> {
    const matcher = createTopicMatcher(pattern)
    // [MQTT-4.7.2-1] a filter starting with a wildcard never matches a $ topic (retained $SYS).
    const skipDollar = startsWithWildcard(pattern)
    for (const [topic, packet] of this.#retained) {
      if (!(skipDollar && isDollarTopic(topic)) && matcher.test(topic)) yield packet
    }
  }
}
