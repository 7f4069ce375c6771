import type { EventEmitter } from 'node:events'
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubConfig } from '../config/options.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { MqttAuth } from './auth.js'
import { installMaxQosDelivery } from './max-qos-delivery.js'
import { createMqEmitter } from './mq-emitter.js'

/** The limits aedes enforces itself; documented with the options they come from. */
export type BrokerLimits = Pick<HubConfig, 'connectTimeoutMs' | 'drainTimeoutMs' | 'queueLimit' | 'maxInflightInbound' | 'maxTopicLevels' | 'keepaliveLimitS'>

export interface BrokerDeps {
  id: string
  /** An aedes async persistence (SqlitePersistence in a hub; in-memory in some tests). */
  persistence: AedesOptions['persistence']
  auth: MqttAuth
  limits: BrokerLimits
  log: Logger
  metrics: HubMetrics
  /** aedes' message bus; default the local one (a hub passes its RingEmitter's). */
  mq?: AedesOptions['mq']
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
    // aedes' default concurrency (100), on an emitter that survives deep queues.
    mq: deps.mq ?? createMqEmitter({ concurrency: 100 }),
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
      metrics.traffic.messagesOut++
      return packet
    },
  })

  broker.on('clientReady', (client) => {
    log.debug({ clientId: client.id, username: auth.identityOf(client)?.username }, 'client connected')
  })
  broker.on('clientDisconnect', (client) => {
    log.debug({ clientId: client.id }, 'client disconnected')
  })
  // aedes emits an error event for every failed write to a client it is already closing, so
  // only the error that closes a connection is counted. A peer that hangs up (ECONNRESET, EPIPE)
  // is a lost connection, not bad input.
  const onError = (kind: 'client-error' | 'connection-error') => (client: Client, err: Error & { code?: string }) => {
    if (client.closed) return
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      metrics.disconnects.inc({ reason: 'reset' })
      log.debug({ clientId: client.id, err: err.message }, 'connection reset by peer')
      return
    }
    metrics.protocolErrors.inc({ reason: kind })
    log.info({ clientId: client.id, err: err.message }, kind === 'client-error' ? 'client error; connection closed' : 'error before CONNECT completed; connection closed')
  }
  broker.on('clientError', onError('client-error'))
  broker.on('connectionError', onError('connection-error'))
  // aedes emits 'error' when a persistence call inside its own flows fails (offline enqueue, will
  // cleanup); an EventEmitter without a listener would throw it and end the process.
  // aedes' typings list only its own events; 'error' is EventEmitter's.
  ;(broker as EventEmitter).on('error', (err: Error) => {
    metrics.storeErrors.inc()
    log.error({ err }, 'broker error')
  })
  broker.on('keepaliveTimeout', (client) => {
    metrics.disconnects.inc({ reason: 'keepalive-timeout' })
    log.info({ clientId: client.id }, 'keep-alive timeout')
  })
  return broker
}

export function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()))
}
