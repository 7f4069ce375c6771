import { Readable } from 'node:stream'
import { classifyFilter, isLocalTopic } from '../ring/keys.js'
import { isDrainingQueue, snapshotStream } from './queue-first.js'
import type { RetainedMessage, RetainedStore } from '../routing/router.js'
import { payloadBytes } from '../store/packet-codec.js'
import { SqlitePersistence, type PacketLike, type Subscription, type TrieSubscription } from '../store/sqlite-persistence.js'

/** What the persistence needs of the ring once the hub has joined it (the hub's Router). */
export interface RingSide {
  /** Retained messages matching routed filters, from the hubs that own them. */
  retainedFor(filters: readonly string[]): Promise<RetainedMessage[]>
  /** Interest in a filter, counted per holder; resolves once the hubs that must know have it. */
  subscribe(filter: string): Promise<void>
  unsubscribe(filter: string): Promise<void>
  /** Resolves once the interest in `filter` being told to the ring now (if any) is recorded. */
  told(filter: string): Promise<void>
}

/**
 * The SQLite persistence as aedes sees it in a ring. For routed topics (everything but `$`) the
 * owner, not the ingress hub, keeps retained messages and the offline queues of each hub are
 * filled when a message is delivered there, in owner order. So aedes' own publish pipeline
 * stores no retained message (`retainedOnEmit`) and `subscriptionsByTopic` finds nothing for
 * routed topics, and a subscription's retained messages come from the owners. The `...Here` methods are the real ones,
 * used by the router (as its RetainedStore) and by the delivery path.
 */
export class RoutedPersistence extends SqlitePersistence implements RetainedStore {
  /** Set once the hub has a router (`attachRing`); until then a plain single-hub persistence. */
  #ring: RingSide | undefined
  #keyDepth = 0

  /**
   * Joins the ring: from now on a filter with a QoS > 0 persistent subscription here keeps this
   * hub's interest with the ring even while its clients are disconnected, so their queues fill
   * (a connected client's subscription counts again, through the message bus).
   */
  attachRing(ring: RingSide, keyDepth: number): void {
    this.#ring = ring
    this.#keyDepth = keyDepth
    for (const filter of this.queueingFilters()) this.queueingFilterChanged(filter, true)
  }

  protected override queueingFilterChanged(filter: string, present: boolean): void {
    const ring = this.#ring
    if (!ring || classifyFilter(filter, this.#keyDepth).kind === 'local') return
    void (present ? ring.subscribe(filter) : ring.unsubscribe(filter))
  }

  /** Resolves once the ring has the interest of new queueing filters (aedes sends SUBACK after). */
  override async addSubscriptions(client: { id: string }, subs: Subscription[]): Promise<void> {
    await super.addSubscriptions(client, subs)
    const ring = this.#ring
    if (ring) await Promise.all(subs.map((s) => ring.told(s.topic)))
  }

  /**
   * Read by the patched aedes (patches/aedes+1.2.0.patch, `storeRetained`): with a ring, aedes'
   * publish pipeline stores no retained message; the key's owner does as it numbers it, and
   * `RingEmitter` does for `$` topics. Storing in the pipeline added a step that only retained
   * publishes take, so one could fall behind the publishes that followed it on its connection.
   */
  get retainedOnEmit(): boolean { return this.#ring !== undefined }

  override async subscriptionsByTopic(topic: string): Promise<TrieSubscription[]> {
    if (this.#routed(topic)) return []
    return super.subscriptionsByTopic(topic)
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    const ring = this.#ring
    if (!ring) return super.createRetainedStreamCombi(patterns)
    const local = patterns.filter((p) => classifyFilter(p, this.#keyDepth).kind === 'local')
    const routed = patterns.filter((p) => classifyFilter(p, this.#keyDepth).kind !== 'local')
    const here = local.length > 0 ? super.createRetainedStreamCombi(local) : undefined
    return Readable.from((async function* () {
      if (here) for await (const packet of here) yield packet
      if (routed.length === 0) return
      for (const m of await ring.retainedFor(routed)) {
        yield { cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: true }
      }
    })())
  }

  /** A reconnecting persistent client's queue, read until empty before live delivery resumes. */
  override outgoingStream(client: { id: string }): Readable {
    if (!isDrainingQueue(client)) return super.outgoingStream(client)
    return snapshotStream(client, this)
  }

  /** Persistent-session subscriptions on this hub matching `topic`, whatever the topic. */
  subscriptionsHere(topic: string): Promise<TrieSubscription[]> {
    return super.subscriptionsByTopic(topic)
  }

  /** RetainedStore: the owner's retained messages live in this hub's `retained` table. */
  store(message: RetainedMessage): Promise<void> {
    return super.storeRetained({ cmd: 'publish', topic: message.topic, payload: message.payload, qos: message.qos, retain: true })
  }

  /** RetainedStore: retained messages held here matching any of `filters`. */
  async matching(filters: readonly string[]): Promise<RetainedMessage[]> {
    const out: RetainedMessage[] = []
    for await (const p of super.createRetainedStreamCombi([...filters]) as AsyncIterable<PacketLike>) {
      const payload = payloadBytes(p.payload)
      out.push({ topic: p.topic ?? '', payload, qos: (p.qos ?? 0) as 0 | 1 | 2 })
    }
    return out
  }

  #routed(topic: string | undefined): boolean {
    return this.#ring !== undefined && topic !== undefined && !isLocalTopic(topic)
  }
}
