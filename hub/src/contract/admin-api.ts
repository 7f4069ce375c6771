/**
 * The operator-facing part of admin API v1 (issue 6): what the HTTP routes under `/api/v1/` and
 * the WebSocket at `/api/v1/ws` carry. Shared by the hub (hub/src/admin), the renderer
 * (ui/src/renderer) and the tests, so it holds only plain JSON data types. Any hub answers for
 * the whole ring: a hub gathers the other hubs' parts over the inter-hub link.
 *
 * Append-only: new optional fields and new channel names may be added; nothing is renamed.
 */
import type { RingMemberView, RingView } from './ring-view.js'

/** One entry of the membership timeline: what some hub saw happen, in the past tense. */
export type TimelineEventType = 'memberJoined' | 'memberSuspected' | 'memberDied' | 'memberLeft' | 'memberAlive' | 'ownershipChanged'

export interface TimelineEvent {
  /** Wall-clock time the reporting hub saw it, ms since the epoch. */
  tsMs: number
  /** The hub that saw it (and stored it). */
  seenBy: string
  type: TimelineEventType
  /** The member it is about. */
  member: string
  /** SWIM incarnation of `member` when seen (absent for `ownershipChanged`). */
  incarnation?: number
  /** For `ownershipChanged`: the fraction of the keyspace that changed owner, in [0, 1]. */
  movedShare?: number
}

/** One hub's figures over one interval (1 s live, rolled up to 1 min for history). */
export interface HubStatsPoint {
  hub: string
  /** Start of the interval, ms since the epoch. */
  tsMs: number
  /** Interval length, ms (1000 or 60000). */
  intervalMs: number
  connections: number
  msgsInPerS: number
  msgsOutPerS: number
  interHubBytesInPerS: number
  interHubBytesOutPerS: number
  /** Messages dropped in the interval (queues full, slow consumers, refused), all causes summed. */
  drops: number
  /** Replication lag: age of the oldest unconfirmed copy at the end of the interval, ms. */
  storeLagMs: number
}

/** `GET /api/v1/stats?hub=ID&sinceMs=T` (hub omitted: every hub): points in time order. */
export interface StatsResponse {
  points: HubStatsPoint[]
}

/**
 * One hub's router link to a peer its membership names (`GET /api/v1/ring/links`): open (`up`)
 * or not, since when (ms since the epoch; for a link never open, since the peer was named).
 */
export interface RouterLinkView {
  from: string
  to: string
  up: boolean
  sinceMs: number
  /** How long it has been so, by the reporting hub's clock (a reader's clock may differ from the hub's). */
  forMs: number
}

/** `GET /api/v1/ring/links`: the links of every hub that answered (`hubs`), sorted by from, to. */
export interface RingLinksResponse {
  hubs: string[]
  links: RouterLinkView[]
}

export interface DeviceView {
  /** The device's client id. */
  id: string
  online: boolean
  /** Hub the device is connected to (the last one, when offline). */
  hub: string | null
  /** Owner of the device's key `devices/<id>`. */
  owner: string
  /** Last time the device connected, published or disconnected, ms since the epoch. */
  lastSeenMs: number
  /** Messages per second the device published over the last 10 s. */
  msgsPerS: number
}

/** `GET /api/v1/devices?search=S&limit=N` */
export interface DevicesResponse {
  devices: DeviceView[]
  /** Devices matching `search` in the whole ring (may exceed `devices.length`). */
  total: number
}

/** One topic seen recently, with its last message. */
export interface TopicView {
  topic: string
  /** Messages seen on the topic since the hub started. */
  count: number
  /** The last payload: UTF-8 text when it decodes as such, else base64 with `encoding: 'base64'`. */
  lastPayload: string
  encoding: 'utf8' | 'base64'
  lastTsMs: number
  /** A retained message is stored for this topic. */
  retained: boolean
  /** Owner hub of the topic's key. */
  owner: string
}

/**
 * `GET /api/v1/topics?prefix=P&limit=N`: the most recently published first. With `order=topic`
 * (`&after=T`) a page in topic order instead, for reading every topic: pass `next` as `after`
 * until it is absent. Flat list; the renderer builds the tree.
 */
export interface TopicsResponse {
  topics: TopicView[]
  /** Topics matching `prefix` in the whole ring (all pages together). */
  total: number
  /** `order=topic` only: the cursor of the next page (the last topic of this one); absent on the last page. */
  next?: string
}

/** A stored message of a topic's log (the resume reader's entries, one topic). */
export interface TopicMessage {
  topic: string
  epoch: number
  seq: number
  tsMs: number
  qos: 0 | 1 | 2
  retain: boolean
  payload: string
  encoding: 'utf8' | 'base64'
}

/** `GET /api/v1/topics/history?topic=T&limit=N`: newest last. */
export interface TopicHistoryResponse {
  topic: string
  messages: TopicMessage[]
}

/** `POST /api/v1/publish` body; answered `{ ok: true }` once the owner has acknowledged (QoS ≥ 1). */
export interface PublishRequest {
  topic: string
  payload: string
  /** Default `utf8`; `base64` for binary payloads. */
  encoding?: 'utf8' | 'base64'
  qos?: 0 | 1
  retain?: boolean
}

/** A message the live tap let through (sampled: at most `maxPerS` per second per WebSocket). */
export interface TapMessage {
  topic: string
  payload: string
  encoding: 'utf8' | 'base64'
  qos: 0 | 1 | 2
  retain: boolean
  /** The key's owner numbering, when the message went through the ring. */
  epoch?: number
  seq?: number
  tsMs: number
  /** The payload was cut to the tap's bound (16 KiB); the topic's history has it whole. */
  truncated?: boolean
}

/** WebSocket channels a client can subscribe to. */
export type AdminChannel = 'ring' | 'timeline' | 'stats' | 'devices' | 'tap'

/**
 * A change of the ring since the previous `ring` or `ringDelta` frame on this socket: the members
 * that are new or changed (state, incarnation, addresses, meta, share), whole, and the ids of
 * members no longer listed. Applying it to the previous view (replace or add `members` by id,
 * drop `removed`, keep the order by id, take `checksum`) gives the new view.
 */
export interface RingDelta {
  checksum: string
  members: RingMemberView[]
  removed: string[]
}

/** Client → hub frames on `/api/v1/ws` (JSON text). `ref` is echoed in the reply. */
export type AdminClientFrame =
  /** `deltas: true`: the first frame is the whole ring, then `ringDelta` frames (default: whole `ring` frames). */
  | { ref: string, op: 'subscribe', channel: 'ring', deltas?: boolean }
  | { ref: string, op: 'subscribe', channel: 'timeline' | 'stats' | 'devices' }
  | { ref: string, op: 'subscribe', channel: 'tap', filter: string, maxPerS?: number }
  | { ref: string, op: 'unsubscribe', channel: AdminChannel }
  | { ref: string, op: 'ping' }

/** Hub → client frames on `/api/v1/ws`. */
export type AdminServerFrame =
  | { ref: string, op: 'ok' }
  | { ref: string | null, op: 'error', reason: string }
  /** On subscribe and whenever the ring changes (membership, state, incarnation). */
  | { op: 'ring', ring: RingView }
  /** Instead of `ring` after the first, for a `ring` subscription with `deltas: true`. */
  | { op: 'ringDelta', delta: RingDelta }
  | { op: 'timeline', events: TimelineEvent[] }
  /** Once a second: the last point of every hub. */
  | { op: 'stats', points: HubStatsPoint[] }
  /** Devices whose state changed since the last frame (at most one frame per second). */
  | { op: 'devices', devices: DeviceView[] }
  | { op: 'tap', messages: TapMessage[], /** messages the rate limit skipped since the last frame */ skipped: number }
