import type { EventEmitter } from 'node:events'
import { Aedes, type AedesOptions, type AedesPublishPacket, type Client } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubConfig } from '../config/options.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { isStoreFailure, storeFailureReason } from '../store/store-failure.js'
import { MAX_CLIENT_ID_BYTES, type MqttAuth } from './auth.js'
import { deliverFromQueue, installMaxQosDelivery } from './max-qos-delivery.js'
import { beginQueueFirst, catchUp, isDrainingQueue, type QueueRows } from './queue-first.js'
import { createMqEmitter } from './mq-emitter.js'
import type { OverloadGovernor } from './overload-governor.js'

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
  /** The session queues, read to send a reconnected persistent client its queue in order. */
  queues: QueueRows
  /** aedes' message bus; default the local one (a hub passes its RingEmitter's). */
  mq?: AedesOptions['mq']
  /** Filled in once the hub is in a ring: runs after a client authenticated, before aedes
   *  restores its session (SessionHandoff.connecting). A failure is logged; the client goes on. */
  hooks?: { authenticated?: (client: Client) => Promise<void> | undefined }
  /** Memory overload protection (`--max-rss-mb`): QoS 0 deliveries are dropped while it is active. */
  overload?: Pick<OverloadGovernor, 'active' | 'shed'>
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
    // aedes checks this for MQTT 3.1 only; auth.ts refuses longer ids for every version.
    maxClientsIdLength: MAX_CLIENT_ID_BYTES,
    preConnect: (client, packet, callback) => {
      installMaxQosDelivery(client, {
        onSlowConsumerDrop: () => metrics.drops.inc({ reason: 'slow-consumer' }),
        overloaded: () => deps.overload?.active === true,
        onOverloadDrop: () => {
          metrics.drops.inc({ reason: 'overload' })
          deps.overload?.shed('qos0-dropped')
        },
      })
      if (!packet.clean) beginQueueFirst(client)
      auth.preConnect(client, packet, callback)
    },
    authenticate: (client, username, password, callback) => {
      auth.authenticate(client, username, password, (err, ok) => {
        const waiting = err || ok !== true ? undefined : deps.hooks?.authenticated?.(client)
        if (!waiting) return callback(err, ok)
        waiting.then(() => callback(null, true), (hookErr: unknown) => {
          log.error({ err: hookErr, clientId: client.id }, 'session handoff failed; the client connects with what this hub holds')
          callback(null, true)
        })
      })
    },
    authorizePublish: auth.authorizePublish,
    authorizeSubscribe: auth.authorizeSubscribe,
    authorizeForward: (_client: Client, packet: AedesPublishPacket) => {
      metrics.traffic.messagesOut++
      return packet
    },
  })

  broker.on('clientReady', (client) => {
    // aedes has sent the queue it had at CONNECT; what came meanwhile goes next (queue-first.ts).
    if (isDrainingQueue(client)) {
      catchUp(client, deps.queues, (packet) => deliverFromQueue(client, packet)).catch((err: unknown) => {
        log.error({ err, clientId: client.id }, 'sending a reconnected client its queue failed')
      })
    }
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
    // A publish the store could not commit (a full disk) ends the connection unacknowledged:
    // MQTT 3.1.1 has no negative PUBACK, and the client sends it again once reconnected. Not
    // bad input; the store has logged the failure once (HubDb).
    if (isStoreFailure(err)) {
      metrics.disconnects.inc({ reason: 'store-failed' })
      log.debug({ clientId: client.id, err: err.message }, 'publish not stored; connection closed unacknowledged')
      return
    }
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      metrics.disconnects.inc({ reason: 'reset' })
      log.debug({ clientId: client.id, err: err.message }, 'connection reset by peer')
      return
    }
    // aedes closes a client that did not read within drainTimeoutMs with this error: a slow
    // consumer, not bad input.
    if (err.message === 'drain timeout') {
      metrics.disconnects.inc({ reason: 'drain-timeout' })
      log.info({ clientId: client.id }, 'slow client did not read within drainTimeoutMs; disconnected')
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
    metrics.storeErrors.inc({ reason: storeFailureReason(err) })
    if (isStoreFailure(err)) log.debug({ err }, 'broker error (store)')
    else log.error({ err }, 'broker error')
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
