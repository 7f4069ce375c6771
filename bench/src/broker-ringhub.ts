import type { HubNodeOptions } from './ipc-protocol.js'
import type { RunningBroker } from './running-broker.js'
// The hub's compiled output: bench/dist/*.js must resolve these at run time, and tsc keeps import
// specifiers as written, so the path names hub/dist (typed by the project reference's .d.ts).
import { Hub } from '../../hub/dist/hub.js'
import { loadConfig } from '../../hub/dist/config/load.js'
import { createLogger } from '../../hub/dist/base/log.js'
import { systemClock } from '../../hub/dist/base/system-clock.js'

/**
 * The system under test: a whole hub (SQLite persistence, auth, frame guard, metrics, admin
 * server, membership, router) as `ringhub hub` builds it, on ephemeral ports and a fresh data
 * directory. Alone (`bench` id) or, with `ring`, as one member of a ring that it joins.
 */
export async function startRinghub(dataDir: string, ring?: HubNodeOptions): Promise<RunningBroker> {
  const config = loadConfig({
    overrides: {
      id: ring?.id ?? 'bench', host: '127.0.0.1', mqtt: 0, admin: 0, gossip: 0, interHub: 0, data: dataDir, allowAnonymous: true, logLevel: 'warn', sysIntervalMs: 0,
      ...(ring ? { join: ring.join, replicationFactor: ring.replicationFactor, profile: ring.profile } : {}),
    },
  })
  const hub = await Hub.start({ config, clock: systemClock, log: createLogger(config.logLevel) })
  return {
    port: hub.ports.mqtt,
    extraPorts: { admin: hub.ports.admin, gossip: hub.ports.gossip },
    clients: () => hub.broker.connectedClients,
    stop: () => hub.stop(),
  }
}
