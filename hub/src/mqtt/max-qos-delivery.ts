import type { Client } from 'aedes'
import { topicMatches } from '../ring/topic-match.js'

type Deliver = (packet: { topic: string, qos: 0 | 1 | 2 }, cb: () => void) => void

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
export function installMaxQosDelivery(client: Client): void {
  const c = client as unknown as DeliveringClient
  const deliver0 = c.deliver0
  const deliverQoS = c.deliverQoS
  const deliver: Deliver = (packet, cb) => {
    // QoS 0 stays 0 whatever was granted: no need to look at the subscriptions.
    const qos = packet.qos === 0 ? 0 : Math.min(packet.qos, maxGrantedQos(c.subscriptions, packet.topic, packet.qos)) as 0 | 1 | 2
    // The packet is already this subscription's own copy (aedes' handlePacketSubscription).
    packet.qos = qos
    if (qos === 0) deliver0(packet, cb)
    else deliverQoS(packet, cb)
  }
  c.deliver0 = deliver
  c.deliverQoS = deliver
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
