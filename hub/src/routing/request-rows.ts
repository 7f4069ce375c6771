import type { PublishBatchRequest, ReplicaEntry, ReplicateRequest, RouterRequest } from './messages.js'
import { isBytes, isCount, isQos, isString } from './wire-checks.js'

/**
 * The two requests every forwarded QoS ≥ 1 publish travels in, with their items by position on
 * the wire, as `deliver-batch` carries deliveries: a msgpack map names every field of every item.
 * Encoded and decoded through the link's frames, with the checks, a forward costs 0.7 µs instead
 * of 1.1 and a copy 1.0 µs instead of 1.9 (batches of 64). The hubs' code sees the object forms
 * only: the link packs them (`packRequest`) and
 * `asRouterRequest` unpacks them (`unpackRows`). New request types (STYLE §6): `publish-batch` and
 * `replicate` are still read. Fields are appended only, and a reader ignores fields after the ones
 * it knows; hubs from before that rule (before `first`, 2026-11-24) refuse a publish row of six
 * fields and close the link, so upgrade a ring's hubs from then together.
 */
/** `first` (`PublishRequest.first`) from hubs that send it. */
export type PublishRow =
  | [id: string, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean]
  | [id: string, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, first: number]
/** `id` with a forwarded publish; `via` with one whose ingress waits for this replica's confirmation. */
export type ReplicaRow =
  | [key: string, epoch: number, seq: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, tsMs: number]
  | [key: string, epoch: number, seq: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, tsMs: number, id: string]
  | [key: string, epoch: number, seq: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, tsMs: number, id: string, via: string]

export interface PublishRowsRequest { t: 'publish-rows', rows: PublishRow[] }
export interface ReplicateRowsRequest { t: 'replicate-rows', rows: ReplicaRow[] }

/** What goes on the wire for `r`: the row form of a publish batch or a replica batch, else `r`. */
export function packRequest(r: RouterRequest): RouterRequest | PublishRowsRequest | ReplicateRowsRequest {
  if (r.t === 'publish-batch') return { t: 'publish-rows', rows: r.items.map(publishRow) }
  if (r.t === 'replicate') return { t: 'replicate-rows', rows: r.entries.map(replicaRow) }
  return r
}

function publishRow(i: PublishBatchRequest['items'][number]): PublishRow {
  if (i.first === undefined) return [i.id, i.topic, i.payload, i.qos, i.retain]
  return [i.id, i.topic, i.payload, i.qos, i.retain, i.first]
}

function replicaRow(e: ReplicaEntry): ReplicaRow {
  if (e.id === undefined) return [e.key, e.epoch, e.seq, e.topic, e.payload, e.qos, e.retain, e.tsMs]
  if (e.via === undefined) return [e.key, e.epoch, e.seq, e.topic, e.payload, e.qos, e.retain, e.tsMs, e.id]
  return [e.key, e.epoch, e.seq, e.topic, e.payload, e.qos, e.retain, e.tsMs, e.id, e.via]
}

/** A `publish-rows` or `replicate-rows` body back in its object form; undefined when malformed. */
export function unpackRows(m: { t: 'publish-rows' | 'replicate-rows', rows?: unknown }): PublishBatchRequest | ReplicateRequest | undefined {
  if (!Array.isArray(m.rows)) return undefined
  if (m.t === 'publish-rows') {
    if (!m.rows.every(isPublishRow)) return undefined
    return { t: 'publish-batch', items: (m.rows as PublishRow[]).map(publishItem) }
  }
  if (!m.rows.every(isReplicaRow)) return undefined
  return { t: 'replicate', entries: (m.rows as ReplicaRow[]).map(replicaEntry) }
}

function publishItem(r: PublishRow): PublishBatchRequest['items'][number] {
  const [id, topic, payload, qos, retain, first] = r // and nothing after: see isPublishRow
  // One literal per shape (V8 keeps one hidden class for each).
  if (first === undefined) return { id, topic, payload, qos, retain }
  return { id, topic, payload, qos, retain, first }
}

function replicaEntry(r: ReplicaRow): ReplicaEntry {
  const [key, epoch, seq, topic, payload, qos, retain, tsMs, id, via] = r
  // One literal per shape, as the owner builds them (`Replicator.replicate`).
  if (id === undefined) return { key, epoch, seq, topic, payload, qos, retain, tsMs }
  if (via === undefined) return { key, epoch, seq, topic, payload, qos, retain, tsMs, id }
  return { key, epoch, seq, topic, payload, qos, retain, tsMs, id, via }
}

// Rows are append-only (STYLE §6): fields after the ones this version knows are ignored, so a
// later hub may add one without this one closing the link.
const isPublishRow = (v: unknown): boolean =>
  Array.isArray(v) && v.length >= 5 && isString(v[0]) && isString(v[1]) && isBytes(v[2]) && isQos(v[3]) && typeof v[4] === 'boolean' &&
  (v.length < 6 || isCount(v[5]))

const isReplicaRow = (v: unknown): boolean =>
  Array.isArray(v) && v.length >= 8 &&
  isString(v[0]) && isCount(v[1]) && isCount(v[2]) && isString(v[3]) && isBytes(v[4]) && isQos(v[5]) && typeof v[6] === 'boolean' && isCount(v[7]) &&
  (v.length < 9 || isString(v[8])) && (v.length < 10 || isString(v[9]))
