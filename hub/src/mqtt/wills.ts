import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Logger } from '../base/log.js'

interface WillStore {
  /** A will carries `guarded: true` once a guardian holds a copy (will-guard.ts). */
  streamWill(brokers?: Record<string, unknown>): AsyncIterable<AedesPublishPacket & { clientId: string, guarded?: boolean }>
  delWill(client: { id: string, brokerId: string }): Promise<unknown>
}

/** The parts of aedes' Client (lib/client.js) that shutdown needs; not in aedes' typings. */
interface ConnectedClient {
  id: string
  will: AedesPublishPacket | null
}

function publish(broker: Aedes, packet: AedesPublishPacket): Promise<void> {
  return new Promise((resolve) => broker.publish(packet, () => resolve()))
}

/**
 * Publishes the wills left by connections of this hub's previous run that never disconnected
 * cleanly (the process was killed). aedes only sends wills of *other* dead broker ids; a hub that
 * restarts under its own id would otherwise keep them forever [MQTT-3.1.2-8]. A will a guardian
 * holds is the guardian's to publish (will-guard.ts): it is only deleted here.
 */
export async function publishOrphanedWills(broker: Aedes, store: WillStore, log: Logger): Promise<number> {
  let count = 0
  // An empty "alive brokers" map streams every stored will; keep only ours.
  for await (const will of store.streamWill({})) {
    if (will.brokerId !== broker.id) continue
    if (will.guarded === true) {
      await store.delWill({ id: will.clientId, brokerId: will.brokerId })
      continue
    }
    await publish(broker, will)
    await store.delWill({ id: will.clientId, brokerId: will.brokerId })
    count++
  }
  if (count > 0) log.info({ count }, 'published wills left by the previous run')
  return count
}

/**
 * On a graceful stop every connection closes without DISCONNECT, so every will is due
 * [MQTT-3.1.2-8]. They are published here, while the other clients are still connected to
 * receive them, and deleted from the store before it closes; aedes would publish them only while
 * tearing the connections down, and delete them after the store had closed, so they would come
 * again at the next start.
 */
export async function publishWillsBeforeStop(broker: Aedes, store: WillStore, log: Logger): Promise<number> {
  const clients = Object.values((broker as unknown as { clients: Record<string, ConnectedClient> }).clients)
  let count = 0
  for (const client of clients) {
    const will = client.will
    if (!will) continue
    client.will = null // aedes must not publish it again when the connection closes
    await publish(broker, will)
    await store.delWill({ id: client.id, brokerId: broker.id })
    count++
  }
  if (count > 0) log.info({ count }, 'published the wills of connected clients before stopping')
  return count
}
