import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { MqttAuth } from './auth.js'
import { installMaxQosDelivery } from './max-qos-delivery.js'

export interface BrokerLimits {
  connectTimeoutMs: number
  drainTimeoutMs: number
  queueLimit: number
  maxInflightInbound: number
  maxTopicLevels: number
  keepaliveLimitS: number
}

export interface BrokerDeps {
  id: string
  /** An aedes async persistence (SqlitePersistence in a hub; in-memory in some tests). */
  persistence: AedesOptions['persistence']
  auth: MqttAuth
  limits: BrokerLimits
  log: Logger
  metrics: HubMetrics
}

/**
 * Builds the aedes broker with our hooks and limits, and turns its events into logs and metrics.
 * The broker knows nothing of sockets: listeners hand it connections after the frame guard.
 */
export async function createBroker(deps: BrokerDeps): Promise<Aedes> {
  const { auth, limits, log, metrics } = deps
  const broker = await Aedes.createBroker({
    id: deps.id,
    persistence: deps.persistence,
    connectTimeout: limits.connectTimeoutMs,
    drainTimeout: limits.drainTimeoutMs,
    queueLimit: limits.queueLimit,
    maxInflightInbound: limits.maxInflightInbound,
    maxTopicLevels: limits.maxTopicLevels,
    keepaliveLimit: limits.keepaliveLimitS,
    // MQTT 3.1.1 allows client ids up to 65535 bytes; 23 is only the minimum a server must take.
    maxClientsIdLength: 256,
    preConnect: (client, packet, callback) => {
      installMaxQosDelivery(client)
      auth.preConnect(client, packet, callback)
    },
    authenticate: auth.authenticate,
    authorizePublish: auth.authorizePublish,
    authorizeSubscribe: auth.authorizeSubscribe,
    authorizeForward: (_client: Client, packet: AedesPublishPacket) => {
      metrics.messagesOut.inc()
      return packet
    },
  })

  broker.on('publish', (packet, client) => {
    if (client) metrics.messagesIn.inc({ qos: String(packet.qos) })
  })
  broker.on('clientReady', (client) => {
    log.debug({ clientId: client.id, username: auth.identityOf(client)?.username }, 'client connected')
  })
  broker.on('clientDisconnect', (client) => {
    log.debug({ clientId: client.id }, 'client disconnected')
  })
  broker.on('clientError', (client, err) => {
    metrics.protocolErrors.inc({ reason: 'client-error' })
    log.info({ clientId: client.id, err: err.message }, 'client error; connection closed')
  })
  broker.on('connectionError', (_client, err) => {
    metrics.protocolErrors.inc({ reason: 'connection-error' })
    log.info({ err: err.message }, 'connection error before CONNECT completed; connection closed')
  })
  broker.on('keepaliveTimeout', (client) => {
    metrics.drops.inc({ reason: 'keepalive-timeout' })
    log.info({ clientId: client.id }, 'keep-alive timeout')
  })
  return broker
}

export function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()))
}
