import type { BrokerKind } from './ipc-protocol.js'

/**
 * What a scenario runs against: one broker process (`ringhub`, `aedes`, `relay`), or a system
 * of several processes — `ring`, three ringhub hubs joined into one ring; `aedes-cluster`, two
 * aedes brokers sharing one Redis server as their message bus and their persistence (the aedes
 * README's cluster: what aedes users build today); `aedes-redis`, the same two brokers sharing
 * only the bus, each keeping sessions and retained messages in its own memory (cheaper, but not
 * one broker to its clients).
 */
export type SystemKind = BrokerKind | 'ring' | 'aedes-cluster' | 'aedes-redis'
export const SYSTEM_KINDS: readonly SystemKind[] = ['ringhub', 'aedes', 'relay', 'ring', 'aedes-cluster', 'aedes-redis']

/** How the system is named in tables. */
export const SYSTEM_LABELS: Readonly<Record<SystemKind, string>> = {
  'ringhub': 'ringhub', 'aedes': 'aedes', 'relay': 'relay', 'ring': 'ring of 3', 'aedes-cluster': 'aedes cluster', 'aedes-redis': 'aedes+redis bus',
}

/**
 * Where a scenario's clients connect and which topics they use:
 * - `single`: everything on one broker (the single-broker scenarios);
 * - `cross`: publishers on one node, subscribers on another and, in a ring, the topics' keys
 *   owned by a third (A → B → C); aedes+redis: publishers on broker 1, subscribers on broker 2;
 * - `local`: publishers, subscribers and the keys' owner on one node (a ring's local path);
 * - `spread`: publishers on one node, keys owned by another (ring), subscribers on every node.
 */
export type Layout = 'single' | 'cross' | 'local' | 'spread'

export interface Placement {
  publishPort: number
  /** The subscribers of each topic go round-robin over these ports. */
  subscribePorts: number[]
  /** One topic per publisher, `topics.length` as asked. */
  topics: string[]
  /** Which node plays which part (ingress, owner, replicas, subscribers), for the JSON. */
  roles: Record<string, string>
}

/** Resource use of all the system's processes, summed. Only differences between readings mean something. */
export interface SystemStats {
  atMs: number
  cpuUserUs: number
  cpuSystemUs: number
  rssBytes: number
  heapUsedBytes: number
  clients: number
  /** Systems of several processes: each one's CPU time (user + system, µs), by node name. */
  nodeCpuUs?: Record<string, number>
}

/** Counters of one node read from its metrics (ring hubs: router events and inter-hub frames). */
export type NodeCounters = Record<string, number>

export interface SystemHandle {
  readonly kind: SystemKind
  /** False once any of its processes has died. */
  readonly alive: boolean
  place(layout: Layout, topics: number): Promise<Placement>
  stats(): Promise<SystemStats>
  /** Resource use after a full GC in every process that can do one. */
  memory(): Promise<SystemStats>
  /** Per node (by node name), for systems that count their internal traffic. */
  counters?(): Promise<Record<string, NodeCounters>>
  /** Stops everything; resolves with a description when something had crashed or did not stop cleanly. */
  stop(): Promise<string | undefined>
}

/** Topics of the single-broker scenarios: one device key per publisher. */
export function plainTopics(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `devices/p${i}/t`)
}

/** Sums readings of several processes, by node name; `atMs` is the caller's clock (the processes' clocks differ). */
export function sumStats(atMs: number, named: ReadonlyArray<readonly [string, Omit<SystemStats, 'atMs'>]>): SystemStats {
  const total: SystemStats = { atMs, cpuUserUs: 0, cpuSystemUs: 0, rssBytes: 0, heapUsedBytes: 0, clients: 0, nodeCpuUs: {} }
  for (const [name, p] of named) {
    (total.nodeCpuUs as Record<string, number>)[name] = p.cpuUserUs + p.cpuSystemUs
    total.cpuUserUs += p.cpuUserUs
    total.cpuSystemUs += p.cpuSystemUs
    total.rssBytes += p.rssBytes
    total.heapUsedBytes += p.heapUsedBytes
    total.clients += p.clients
  }
  return total
}
