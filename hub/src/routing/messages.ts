import { ProtocolError } from '../base/errors.js'
import { unpackRows } from './request-rows.js'
import { isBytes, isCount, isQos, isString } from './wire-checks.js'

/**
 * What hubs say to each other over the router link (DESIGN §4). Append-only: a new kind of
 * message gets a new `t`; an unknown one is counted and dropped.
 */

/** A PUBLISH forwarded by the ingress hub to the key's owner (request; reply `PublishReply`). */
export interface PublishRequest {
  t: 'publish'
  /** Unique per ingress hub; the owner numbers a retried forward with a known id only once. */
  id: string
  topic: string
  payload: Uint8Array
  qos: 0 | 1 | 2
  retain: boolean
  /**
   * The place (`PublishOrigin.n`) of the first publish of this key its ingress has not finished:
   * the ones before it are acknowledged or given up, so an owner waiting for one of them to come
   * back (`RefusalGaps`, `RetryHolds`) stops waiting. Absent from hubs before it: nothing follows.
   */
  first?: number
}

/**
 * The forwards of one event-loop turn to one owner (request; reply `PublishBatchReply`, one result
 * per item in the same order). The owner handles the items as if they had come one by one, in order.
 */
export interface PublishBatchRequest {
  t: 'publish-batch'
  items: Array<Omit<PublishRequest, 't'>>
}

export interface PublishBatchReply {
  t: 'published-batch'
  results: PublishReply[]
}

export type PublishReply =
  /**
   * Numbered and committed by the owner. `confirmBy`: the replicas that confirm their copy to
   * the sender directly (`ReplicaConfirmMessage`, chain replication's tail reply); the sender
   * acknowledges once each has. Absent: the owner waited for its replicas itself.
   */
  | { t: 'published', epoch: number, seq: number, confirmBy?: string[] }
  /** The receiver does not own the key (any more): the sender retries with the owner it now sees. */
  | { t: 'not-owner', key: string }
  | { t: 'failed', reason: string }

/** A sequenced message sent by the owner once to each interested hub (one-way). */
export interface DeliverMessage {
  t: 'deliver'
  key: string
  epoch: number
  seq: number
  topic: string
  payload: Uint8Array
  qos: 0 | 1 | 2
  /**
   * Sent from the log after a gap (`PeerReplay`: the receiver was declared dead, or a delivery
   * could not be queued): the offset after which the sender resumes. A receiver whose cursor is
   * before it missed what lies between and reads that from the sender first (`DeliveryCursors`).
   */
  from?: { epoch: number, seq: number }
}

/**
 * One delivery inside a `deliver-batch`: `DeliverMessage`'s fields by position (no field names on
 * the wire); `from` as `[epoch, seq]` in a 7th place when present.
 */
export type DeliverItem = [key: string, epoch: number, seq: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, from?: [number, number]]

/**
 * Deliveries sent to one hub in a row within one event-loop turn, as one frame (one-way). The link
 * builds and unpacks it (`PeerLink`, `TcpPeerBus`): handlers only ever see `DeliverMessage`s, in
 * the same order as if each had had its own frame.
 */
export interface DeliverBatchMessage {
  t: 'deliver-batch'
  items: DeliverItem[]
}

/**
 * A hub's subscription interest, sent to a key's owner (keyed filters) or to every hub (global
 * filters). `replace` carries the sender's whole interest relevant to the receiver (soft state,
 * sent on every ownership change and periodically); `add` / `remove` are the increments between.
 */
export interface InterestMessage {
  t: 'interest'
  op: 'replace' | 'add' | 'remove'
  filters: string[]
}

/** Retained messages matching filters, from the hub that owns them (request). */
export interface RetainedRequest {
  t: 'retained'
  filters: string[]
}

export interface RetainedReply {
  t: 'retained-messages'
  messages: Array<{ topic: string, payload: Uint8Array, qos: 0 | 1 | 2 }>
}

/** A key's logged messages after an offset, from its owner (request). */
export interface LogRequest {
  t: 'log'
  key: string
  epoch: number
  seq: number
  limit: number
  /**
   * Only entries up to and including this offset `[epoch, seq]` (a read of what lies before the
   * owner's oldest entry, asked of the other hubs, and that entry: a log holding both shows they
   * are next to each other). Hubs before it ignore it and answer more; the asker filters.
   */
  through?: [epoch: number, seq: number]
}

/**
 * Where the owner's deliveries of `key` to the asking hub (this run of it) began (request). Asked
 * by a hub that got a delivery claiming earlier ones while it has no cursor for the key: it lost
 * all of them in a link that broke (`DeliveryCursors`). Hubs before it answer with an error.
 */
export interface BeganRequest {
  t: 'began'
  key: string
}

/** The first delivery of the key the owner sent the asking hub's run; null: none on record. */
export interface BeganReply {
  t: 'deliveries-began'
  first: { epoch: number, seq: number } | null
}

export interface LogReply {
  t: 'log-entries'
  entries: WireEntry[]
  /** The first offset the owner's log holds for the key (null: none); absent from older hubs. */
  oldest?: { epoch: number, seq: number } | null
}

/** One sequenced message as the owner copies it to a replica. */
export interface ReplicaEntry extends WireEntry {
  /** The forwarded publish's id, if it was forwarded: a replica that takes over the key then
   *  recognises the ingress hub's retry of it. */
  id?: string
  key: string
  /** The ingress hub waiting for this copy: the replica confirms it there (by `id`) once committed. */
  via?: string
}

/** The copies an owner made for one replica in one event-loop turn, in numbering order (request; reply `{ t: 'ok' }` once all are committed). */
export interface ReplicateRequest {
  t: 'replicate'
  entries: ReplicaEntry[]
}

/**
 * A key's state as a hub holds it: asked by a hub about to sequence the key (`key-state`, so its
 * new epoch is above every earlier one), and pushed by an owner that lost the key to its new owner
 * (`handoff`, with the retained messages). Reply to both: `KeyStateReply`.
 */
export interface KeyStateRequest {
  t: 'key-state' | 'handoff'
  key: string
  /** handoff: the sender's epoch and last seq. */
  epoch: number
  seq: number
  retained: Array<{ topic: string, payload: Uint8Array, qos: 0 | 1 | 2 }>
  /** handoff: the newest entries of the key's log, oldest first (bounded), for resume readers. */
  tail?: TailEntry[]
}

export interface KeyStateReply {
  t: 'key-state-reply'
  epoch: number
  seq: number
  retained: Array<{ topic: string, payload: Uint8Array, qos: 0 | 1 | 2 }>
  tail?: TailEntry[]
}

/** One topic log entry on the wire (its key travels beside it). */
export interface WireEntry { epoch: number, seq: number, topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, tsMs: number }
export type TailEntry = WireEntry

export interface OkReply { t: 'ok' }

/** The receiver has applied an interest change sent as a request (a subscription waits for it). */
export interface InterestReply { t: 'interest-ok' }

/**
 * A barrier on the link from the receiver back to the sender: the receiver answers with a
 * `barrier-ack` sent like its deliveries (one-way, in order), so when the ack arrives every
 * delivery the receiver sent before it has been handled by the sender of the barrier.
 */
export interface BarrierMessage { t: 'barrier' | 'barrier-ack', id: number }

/** A persistent MQTT session as it moves between hubs (subscriptions and queued messages). */
export interface WireSubscription { topic: string, qos: 0 | 1 | 2 }
export interface WirePacket { topic: string, payload: Uint8Array, qos: 0 | 1 | 2, retain: boolean, brokerId?: string, brokerCounter?: number }

/**
 * A client connected elsewhere with this client id. `session-find` asks whether the receiver
 * holds its persistent session (reply `SessionReply` with the subscriptions, or null); `session-take`
 * ends it here — the receiver closes the client's connection and hands over the subscriptions and
 * queued messages (reply `SessionReply`).
 */
export interface SessionRequest {
  t: 'session-find' | 'session-take'
  clientId: string
}

/** One-way: the client connected elsewhere with a clean session; the receiver ends its session and connection of that id. */
export interface SessionEndMessage { t: 'session-end', clientId: string }

export interface SessionReply {
  t: 'session'
  subscriptions: WireSubscription[] | null
  packets: WirePacket[]
}

/**
 * A client's will, given by the hub the client is connected to (its `boot`: that run of the hub)
 * to the `guardians` that publish it if that hub dies (request; reply `{ t: 'ok' }`).
 */
export interface WillGuardRequest {
  t: 'will-guard'
  clientId: string
  boot: string
  /** All the guardians, in order: the first one alive publishes. */
  guardians: string[]
  topic: string
  payload: Uint8Array
  qos: 0 | 1 | 2
  retain: boolean
}

/**
 * `will-release`: the client is gone without its will being due on the guardians (it disconnected,
 * or its hub published the will itself). `will-sync`: the sender runs as `boot`; wills it gave
 * in an earlier run are due (that run ended with the process).
 */
export type WillMessage = { t: 'will-release', clientId: string } | { t: 'will-sync', boot: string }

/**
 * One-way, replica → ingress hub: these forwarded publishes (`id`s) are committed here. Sent for
 * copies that carry `via`; the ingress hub acknowledges a publish once the owner's reply and every
 * replica in its `confirmBy` are in, one hop sooner than the owner relaying the replica's answer.
 */
export interface ReplicaConfirmMessage { t: 'replica-confirm', ids: string[] }

/**
 * One-way, owner → ingress hub: the copies of these forwarded publishes failed (a replica refused
 * or failed them), so no confirmation will come; the ingress retries them now.
 */
export interface CopiesFailedMessage { t: 'copies-failed', ids: string[] }

export type RouterMessage = DeliverMessage | InterestMessage | BarrierMessage | WillMessage | SessionEndMessage | ReplicaConfirmMessage | CopiesFailedMessage
export type RouterRequest = PublishRequest | PublishBatchRequest | RetainedRequest | InterestMessage | LogRequest | BeganRequest | ReplicateRequest | KeyStateRequest | SessionRequest | WillGuardRequest | AdminQueryRequest
export type RouterReply = PublishReply | PublishBatchReply | RetainedReply | InterestReply | LogReply | BeganReply | OkReply | KeyStateReply | SessionReply | AdminAnswerReply

/** Absent, null, or `{ epoch, seq }` counts. */
const isOptionalOffset = (v: unknown): boolean =>
  v === undefined || v === null || (typeof v === 'object' && isCount((v as Record<string, unknown>).epoch) && isCount((v as Record<string, unknown>).seq))
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString)

const isWireEntry = (e: Record<string, unknown> | null | undefined): boolean =>
  isCount(e?.epoch) && isCount(e?.seq) && isString(e?.topic) && isBytes(e?.payload) && isQos(e?.qos) && typeof e?.retain === 'boolean' && isCount(e?.tsMs)
const isEntries = (v: unknown): boolean => Array.isArray(v) && v.every(isWireEntry)
const isTail = (v: unknown): boolean => v === undefined || isEntries(v)
const isRetainedList = (v: unknown): boolean =>
  Array.isArray(v) && v.every((x: Record<string, unknown>) => isString(x?.topic) && isBytes(x?.payload) && isQos(x?.qos))

const isSubscriptions = (v: unknown): boolean =>
  Array.isArray(v) && v.every((x: Record<string, unknown>) => isString(x?.topic) && isQos(x?.qos))
const isPackets = (v: unknown): boolean => Array.isArray(v) && v.every((x: Record<string, unknown>) =>
  isString(x?.topic) && isBytes(x?.payload) && isQos(x?.qos) && typeof x?.retain === 'boolean' &&
  (x?.brokerId === undefined || isString(x.brokerId)) && (x?.brokerCounter === undefined || isCount(x.brokerCounter)))

const isPublishItem = (m: Record<string, unknown> | null | undefined): boolean =>
  isString(m?.id) && isString(m?.topic) && isBytes(m?.payload) && isQos(m?.qos) && typeof m?.retain === 'boolean' && (m?.first === undefined || isCount(m.first))
const isPublishReply = (m: Record<string, unknown> | null | undefined): boolean =>
  (m?.t === 'published' && isCount(m.epoch) && isCount(m.seq) && (m.confirmBy === undefined || isStrings(m.confirmBy))) || (m?.t === 'not-owner' && isString(m.key)) || (m?.t === 'failed' && isString(m.reason))

function bad(what: string): never {
  throw new ProtocolError('malformed', `router: malformed ${what}`)
}

const isDeliverItem = (v: unknown): v is DeliverItem =>
  Array.isArray(v) && (v.length === 6 || (v.length === 7 && Array.isArray(v[6]) && v[6].length === 2 && isCount(v[6][0]) && isCount(v[6][1]))) &&
  isString(v[0]) && isCount(v[1]) && isCount(v[2]) && isString(v[3]) && isBytes(v[4]) && isQos(v[5])

/**
 * A one-way frame's body from a peer as the messages it carries: a `deliver-batch` unpacked into
 * its deliveries, anything else as `asRouterMessage` checks it. ProtocolError if malformed.
 */
export function asRouterMessages(v: unknown): RouterMessage[] {
  const m = v as Record<string, unknown> | null
  if (m === null || typeof m !== 'object' || m.t !== 'deliver-batch') return [asRouterMessage(v)]
  if (!Array.isArray(m.items) || !m.items.every(isDeliverItem)) bad('deliver-batch')
  return (m.items as DeliverItem[]).map(([key, epoch, seq, topic, payload, qos, from]): DeliverMessage =>
    from ? { t: 'deliver', key, epoch, seq, topic, payload, qos, from: { epoch: from[0], seq: from[1] } } : { t: 'deliver', key, epoch, seq, topic, payload, qos })
}

/** Checks a decoded body from a peer; ProtocolError if it is not a RouterMessage. */
export function asRouterMessage(v: unknown): RouterMessage {
  const m = v as Record<string, unknown> | null
  if (m === null || typeof m !== 'object') bad('message')
  if (m.t === 'deliver') {
    if (!isString(m.key) || !isCount(m.epoch) || !isCount(m.seq) || !isString(m.topic) || !isBytes(m.payload) || !isQos(m.qos) || !isOptionalOffset(m.from) || m.from === null) bad('deliver')
    return m as unknown as DeliverMessage
  }
  if (m.t === 'interest') {
    if ((m.op !== 'replace' && m.op !== 'add' && m.op !== 'remove') || !isStrings(m.filters)) bad('interest')
    return m as unknown as InterestMessage
  }
  if (m.t === 'barrier' || m.t === 'barrier-ack') {
    if (!isCount(m.id)) bad(m.t)
    return m as unknown as BarrierMessage
  }
  if (m.t === 'session-end') {
    if (!isString(m.clientId)) bad(m.t)
    return m as unknown as SessionEndMessage
  }
  if (m.t === 'will-release') {
    if (!isString(m.clientId)) bad(m.t)
    return m as unknown as WillMessage
  }
  if (m.t === 'replica-confirm') {
    if (!isStrings(m.ids)) bad(m.t)
    return m as unknown as ReplicaConfirmMessage
  }
  if (m.t === 'copies-failed') {
    if (!isStrings(m.ids)) bad(m.t)
    return m as unknown as CopiesFailedMessage
  }
  if (m.t === 'will-sync') {
    if (!isString(m.boot)) bad(m.t)
    return m as unknown as WillMessage
  }
  throw new ProtocolError('unknown-type', `router: unknown message type ${String(m.t)}`)
}

export function asRouterRequest(v: unknown): RouterRequest {
  const m = v as Record<string, unknown> | null
  if (m === null || typeof m !== 'object') bad('request')
  if (m.t === 'publish') {
    if (!isPublishItem(m)) bad('publish')
    return m as unknown as PublishRequest
  }
  if (m.t === 'publish-rows' || m.t === 'replicate-rows') return unpackRows(m as { t: typeof m.t }) ?? bad(m.t)
  if (m.t === 'publish-batch') {
    if (!Array.isArray(m.items) || !m.items.every((x: Record<string, unknown>) => isPublishItem(x))) bad('publish-batch')
    return m as unknown as PublishBatchRequest
  }
  if (m.t === 'retained') {
    if (!isStrings(m.filters)) bad('retained')
    return m as unknown as RetainedRequest
  }
  if (m.t === 'interest') return asRouterMessage(m) as InterestMessage
  if (m.t === 'replicate') {
    if (!Array.isArray(m.entries) || !m.entries.every((e: Record<string, unknown>) => (e?.id === undefined || isString(e.id)) && (e?.via === undefined || isString(e.via)) && isString(e?.key) && isWireEntry(e))) bad('replicate')
    return m as unknown as ReplicateRequest
  }
  if (m.t === 'key-state' || m.t === 'handoff') {
    if (!isString(m.key) || !isCount(m.epoch) || !isCount(m.seq) || !isRetainedList(m.retained) || !isTail(m.tail)) bad(m.t)
    return m as unknown as KeyStateRequest
  }
  if (m.t === 'log') {
    if (!isString(m.key) || !isCount(m.epoch) || !isCount(m.seq) || !isCount(m.limit)) bad('log')
    if (m.through !== undefined && !(Array.isArray(m.through) && m.through.length === 2 && isCount(m.through[0]) && isCount(m.through[1]))) bad('log')
    return m as unknown as LogRequest
  }
  if (m.t === 'began') {
    if (!isString(m.key)) bad('began')
    return m as unknown as BeganRequest
  }
  if (m.t === 'will-guard') {
    if (!isString(m.clientId) || !isString(m.boot) || !isStrings(m.guardians) || !isString(m.topic) || !isBytes(m.payload) || !isQos(m.qos) || typeof m.retain !== 'boolean') bad('will-guard')
    return m as unknown as WillGuardRequest
  }
  if (m.t === 'session-find' || m.t === 'session-take') {
    if (!isString(m.clientId)) bad(m.t)
    return m as unknown as SessionRequest
  }
  if (m.t === 'admin-query') return asAdminQuery(m)
  throw new ProtocolError('unknown-type', `router: unknown request type ${String(m.t)}`)
}

export function asRouterReply(v: unknown): RouterReply {
  const m = v as Record<string, unknown> | null
  if (m === null || typeof m !== 'object') bad('reply')
  switch (m.t) {
    case 'published-batch':
      if (!Array.isArray(m.results) || !m.results.every((x) => isPublishReply(x as Record<string, unknown>))) bad('published-batch')
      break
    case 'published':
      if (!isCount(m.epoch) || !isCount(m.seq) || (m.confirmBy !== undefined && !isStrings(m.confirmBy))) bad('published')
      break
    case 'not-owner':
      if (!isString(m.key)) bad('not-owner')
      break
    case 'failed':
      if (!isString(m.reason)) bad('failed')
      break
    case 'interest-ok':
    case 'ok':
      break
    case 'admin-answer':
      asAdminAnswer(m)
      break
    case 'key-state-reply':
      if (!isCount(m.epoch) || !isCount(m.seq) || !isRetainedList(m.retained) || !isTail(m.tail)) bad('key-state-reply')
      break
    case 'deliveries-began':
      if (m.first === undefined || !isOptionalOffset(m.first)) bad('deliveries-began')
      break
    case 'log-entries':
      if (!isEntries(m.entries) || !isOptionalOffset(m.oldest)) bad('log-entries')
      break
    case 'session':
      if ((m.subscriptions !== null && !isSubscriptions(m.subscriptions)) || !isPackets(m.packets)) bad('session')
      break
    case 'retained-messages':
      if (!Array.isArray(m.messages) || !m.messages.every((x: Record<string, unknown>) => isString(x?.topic) && isBytes(x?.payload) && isQos(x?.qos))) bad('retained-messages')
      break
    default:
      throw new ProtocolError('unknown-type', `router: unknown reply type ${String(m.t)}`)
  }
  return m as unknown as RouterReply
}

// ---- Admin API (issue 6): ring-wide operator queries --------------------------------------

/**
 * One hub's part of a ring-wide admin query (stats, devices, topics, timeline, a topic's history),
 * asked by the hub an operator talks to (request; reply `AdminAnswerReply`). `params` and `body`
 * are JSON text: the admin layer checks each query's shape itself, so the link stays ignorant of it.
 */
export interface AdminQueryRequest { t: 'admin-query', query: string, params: string }
export interface AdminAnswerReply { t: 'admin-answer', body: string }

function asAdminQuery(m: Record<string, unknown>): AdminQueryRequest {
  if (!isString(m.query) || !isString(m.params)) bad('admin-query')
  return m as unknown as AdminQueryRequest
}

function asAdminAnswer(m: Record<string, unknown>): AdminAnswerReply {
  if (!isString(m.body)) bad('admin-answer')
  return m as unknown as AdminAnswerReply
}
