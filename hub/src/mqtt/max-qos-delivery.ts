import type { Client } from 'aedes'
import { topicMatches } from '../ring/topic-match.js'
import type { PacketLike } from '../store/packet-codec.js'
import { isDrainingQueue } from './queue-first.js'

type Deliver = (packet: { topic: string, qos: 0 | 1 | 2, retain?: boolean }, cb: () => void) => void

interface DeliveringClient {
  deliver0: Deliver
  deliverQoS: Deliver
  subscriptions: Record<string, { qos: number }>
}

/**
 * [MQTT-3.3.5-1]: when several of a client's subscriptions match a message, it is delivered once,
 * at the highest QoS granted among them (never above the QoS it was published with). aedes 1.x
 * delivers through whichever matching subscription fires first and drops the rest as duplicates,
 * so `a/#` at QoS 0 next to `a/+` at QoS 1 could deliver at QoS 0; and a wildcard subscription
 * granted QoS 1 could deliver a QoS 2 message at QoS 2.
 *
 * aedes binds `client.deliver0` / `client.deliverQoS` when a subscription is added, so replacing
 * both on the client before any subscription exists (preConnect) makes every matching
 * subscription deliver at the same, correct QoS. Remaining gap: aedes still downgrades to an
 * exact-topic subscription's QoS when one exists (lib/client.js deliverQoS), so `a/b` at QoS 0
 * next to `a/#` at QoS 1 delivers at QoS 0.
 */
export interface QoS0Shedding {
  /** A QoS 0 delivery was dropped for a client whose socket is backed up. */
  onSlowConsumerDrop?: () => void
  /** True while the hub is overloaded (overload-governor.ts): every QoS 0 delivery is dropped. */
  overloaded?: () => boolean
  /** A QoS 0 delivery was dropped because the hub is overloaded. */
  onOverloadDrop?: () => void
}

export function installMaxQosDelivery(client: Client, shedding: QoS0Shedding = {}): void {
  const c = client as unknown as DeliveringClient
  const deliver0 = c.deliver0
  const deliverQoS = c.deliverQoS
  const conn = (client as unknown as { conn?: { writableNeedDrain?: boolean } }).conn
  const atMaxQos = (packet: Parameters<Deliver>[0], cb: () => void, fromQueue: boolean): void => {
    // QoS 0 stays 0 whatever was granted: no need to look at the subscriptions.
    const qos = packet.qos === 0 ? 0 : Math.min(packet.qos, maxGrantedQos(c.subscriptions, packet.topic, packet.qos)) as 0 | 1 | 2
    // The packet is already this subscription's own copy (aedes' handlePacketSubscription).
    packet.qos = qos
    // A client whose socket is backed up: aedes calls `cb` only once the socket drains (or the
    // drain timeout closes the client), and each held `cb` holds one of the emitter's concurrent
    // deliveries, so one subscriber that stopped reading would slow every other one until its
    // drain timeout. Instead: QoS 0 is dropped for it (at most once) and counted; QoS 1/2 is
    // written behind what waits (buffered until it drains or is closed) and `cb` called now.
    const backedUp = !fromQueue && conn?.writableNeedDrain === true
    if (qos === 0) {
      // Overloaded: QoS 0 is at most once, so it is what the hub sheds first (EMQX drops QoS 0
      // too when a queue is full); QoS 1/2 is never dropped, only not read (read-gate.ts).
      // A run of drops completes synchronously inside mqemitter's release loop; mq-emitter.ts
      // keeps the order of what it defers meanwhile (test/unit/mq-emitter-order.test.ts).
      const overloaded = shedding.overloaded?.() === true
      if (!overloaded && !backedUp) return deliver0(packet, cb)
      if (overloaded) shedding.onOverloadDrop?.()
      else shedding.onSlowConsumerDrop?.()
      return cb()
    }
    // Queued for this persistent client, whose queue is being sent: the queue sends it, in order
    // (queue-first.ts). Retained messages for a new subscription are not queued; they go at once.
    if (!fromQueue && packet.retain !== true && isDrainingQueue(client)) return cb()
    if (!backedUp) return deliverQoS(packet, cb)
    deliverQoS(packet, () => {})
    cb()
  }
  c.deliver0 = (packet, cb) => atMaxQos(packet, cb, false)
  c.deliverQoS = c.deliver0
  fromQueueDelivery.set(client, (packet) => new Promise((resolve) => atMaxQos(packet as Parameters<Deliver>[0], resolve, true)))
}

const fromQueueDelivery = new WeakMap<object, (packet: PacketLike) => Promise<void>>()

/**
 * Sends a queued packet to its client as a live one would go (aedes' deliverQoS: dedupe, then
 * the queued row gets a messageId and is written); resolves once written or dropped.
 */
export function deliverFromQueue(client: object, packet: PacketLike): Promise<void> {
  const deliver = fromQueueDelivery.get(client)
  return deliver ? deliver({ ...packet }) : Promise.resolve()
}

/** The highest QoS granted by a subscription matching `topic`, stopping early at `cap`. */
function maxGrantedQos(subscriptions: Record<string, { qos: number }>, topic: string, cap: number): number {
  const exact = subscriptions[topic]
  let max = exact ? exact.qos : 0
  if (max >= cap) return max
  for (const filter in subscriptions) {
    const qos = (subscriptions[filter] as { qos: number }).qos
    if (qos > max && topicMatches(filter, topic)) {
      max = qos
      if (max >= cap) break
    }
  }
  return max
}
