import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Logger } from '../base/log.js'

interface WillStore {
  streamWill(brokers?: Record<string, unknown>): AsyncIterable<AedesPublishPacket & { clientId: string }>
  delWill(client: { id: string, brokerId: string }): Promise<unknown>
}

/**
 * Publishes the wills left by connections of this hub's previous run that never disconnected
 * cleanly (the process was killed). aedes only sends wills of *other* dead broker ids; a hub that
 * restarts under its own id would otherwise keep them forever [MQTT-3.1.2-8].
 */
export async function publishOrphanedWills(broker: Aedes, store: WillStore, log: Logger): Promise<number> {
  let count = 0
  // An empty "alive brokers" map streams every stored will; keep only ours.
  for await (const will of store.streamWill({})) {
    if (will.brokerId !== broker.id) continue
    await new Promise<void>((resolve) => broker.publish(will, () => resolve()))
    await store.delWill({ id: will.clientId, brokerId: will.brokerId })
    count++
  }
  if (count > 0) log.info({ count }, 'published wills left by the previous run')
  return count
}
