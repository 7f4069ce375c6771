/**
 * The messages between the bench runner and its child processes (broker under test, load
 * workers). Requests carry an id; the child answers each one exactly once with the same id.
 * Unsolicited messages (the broker's `ready`) use id 0.
 */

export interface Envelope<T> {
  id: number
  body: T
}

export type ErrorReply = { type: 'error', message: string }
export type OkReply = { type: 'ok' }

// ---- broker process ----

export type BrokerKind = 'ringhub' | 'aedes' | 'relay'
export const BROKER_KINDS: readonly BrokerKind[] = ['ringhub', 'aedes', 'relay']

export type BrokerRequest =
  /** Resource use now. */
  | { type: 'stats' }
  /** Full GC (twice), then resource use: for memory-per-connection readings. */
  | { type: 'memory' }
  | { type: 'stop' }

export interface BrokerStats {
  type: 'stats'
  /** performance.now() in the broker process: only differences mean something. */
  atMs: number
  cpuUserUs: number
  cpuSystemUs: number
  rssBytes: number
  heapUsedBytes: number
  /** Clients the broker counts as connected. */
  clients: number
}

export type BrokerReply = BrokerStats | OkReply | ErrorReply
/** `admin` and `gossip`: the hub's admin HTTP and gossip ports (ringhub only). */
export type BrokerReady = { type: 'ready', port: number, pid: number, admin?: number, gossip?: number }

/** A hub that is one member of a ring (the ring scenarios); without it the hub runs alone. */
export interface HubNodeOptions {
  id: string
  /** Gossip addresses (`host:port`) to join through. */
  join: string[]
  replicationFactor: number
  profile: 'lan' | 'edge'
}

/**
 * What `broker-process.js <kind> <json>` takes as its JSON argument: the ringhub's data
 * directory and ring membership, or the Redis server an aedes broker shares its messages through.
 */
export interface BrokerArgs {
  dataDir?: string
  hub?: HubNodeOptions
  /** aedes: use mqemitter-redis on 127.0.0.1:<redisPort> instead of the in-memory emitter. */
  redisPort?: number
  /** aedes with redisPort: aedes-persistence-redis on the same server instead of memory. */
  redisPersistence?: boolean
}

// ---- load workers ----

export interface PublisherSpec {
  role: 'publisher'
  clientId: string
  /** Broker port of this client (several brokers in one system); default: the setup's port. */
  port?: number
  topic: string
  qos: 0 | 1
  /** QoS 1: PUBLISHes sent and not yet PUBACKed, at most. QoS 0: ignored (socket back-pressure). */
  window: number
  payloadBytes: number
}

export interface SubscriberSpec {
  role: 'subscriber'
  clientId: string
  /** Broker port of this client (several brokers in one system); default: the setup's port. */
  port?: number
  filter: string
  qos: 0 | 1
}

export type ClientSpec = PublisherSpec | SubscriberSpec

export interface LatencySpec {
  clientIdPrefix: string
  topic: string
  /** The subscriber's broker port when it is not the publisher's (another node of the system). */
  subscribePort?: number
  ratePerS: number
  warmupMs: number
  durationMs: number
  payloadBytes: number
}

export interface IdleSpec {
  clientIdPrefix: string
  count: number
  /** CONNECTs awaiting CONNACK at a time: keeps the broker's accept backlog from overflowing. */
  concurrency: number
  keepaliveS: number
}

export type WorkerRequest =
  | { type: 'setup', port: number, clients: ClientSpec[] }
  | { type: 'start' }
  /** Publishers stop and abort their connections (RST); subscribers stay (see WorkerPool.drain). */
  | { type: 'halt' }
  | { type: 'snapshot' }
  | { type: 'latency', port: number, spec: LatencySpec }
  | { type: 'idle', port: number, spec: IdleSpec }
  | { type: 'stop' }

/** Sent once by a worker (id 0) when it listens for requests. */
export type WorkerReady = { type: 'ready', pid: number }

export interface WorkerSnapshot {
  type: 'snapshot'
  /** performance.now() in the worker process. */
  atMs: number
  /** PUBLISH packets received by this worker's subscribers. */
  received: number
  /** PUBLISH packets written by this worker's publishers. */
  sent: number
  /** PUBACKs received by this worker's publishers. */
  acked: number
  /** Connections that ended on their own (broker closed them or failed). */
  lost: number
  cpuUserUs: number
  cpuSystemUs: number
}

export interface LatencyResult {
  type: 'latency'
  sent: number
  received: number
  /** Samples taken after warm-up. */
  samples: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  /** Largest number of QoS 1 PUBLISHes awaiting PUBACK at once. */
  maxInflight: number
  /** How late the sender's timer fired at worst after warm-up; large values mean the generator itself lagged. */
  maxSendLagMs: number
  lost: number
}

export interface IdleResult {
  type: 'idle'
  connected: number
  failed: number
  elapsedMs: number
  firstError?: string
}

export type WorkerReply = WorkerSnapshot | LatencyResult | IdleResult | OkReply | ErrorReply
