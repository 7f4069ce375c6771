/**
 * The JSON channel protocol (issue 8, docs/channels.md): WebSocket clients that do not speak
 * MQTT join topic filters, publish and resume from an offset on any hub, at `GET /channels` on
 * the admin port. One JSON object per text frame. Shared by the hub, the client library
 * (`ringhub/channels`) and the operator UI.
 */

/** A position in one key's ordered log: the owner's epoch and the sequence number within it. */
export interface ChannelOffset {
  epoch: number
  seq: number
}

/** Who is joined to a topic (presence): one channel connection. */
export interface PresenceMember {
  /** The connection's id, unique in the ring (`<hub>:<n>`). */
  id: string
  /** The user it authenticated as; absent for an anonymous or operator-token connection. */
  user?: string
  /** The hub it is connected to. */
  hub: string
}

export type ChannelClientFrame =
  /** Credentials, when the upgrade request carried none; must come before anything else. */
  | { ref: string, op: 'auth', username: string, password: string }
  /**
   * Joins an MQTT topic filter (wildcards allowed). `since`: a keyed filter's messages after that
   * offset first, from its owner's log. `qos` 1: each message frame carries an `id` to `ack`.
   */
  | { ref: string, op: 'join', topic: string, since?: ChannelOffset, qos?: 0 | 1 }
  | { ref: string, op: 'leave', topic: string }
  /** `payload`: any JSON value, or with `encoding: 'base64'` a base64 string of raw bytes. */
  | { ref: string, op: 'publish', topic: string, payload: unknown, encoding?: 'json' | 'base64', qos?: 0 | 1, retain?: boolean }
  /** Acknowledges every message frame up to and including `id` (QoS 1 joins); no reply. */
  | { ref?: string, op: 'ack', id: number }
  | { ref: string, op: 'heartbeat' }
  /** Who is joined to `topic` across the ring; `watch`: then every join and leave as it happens. */
  | { ref: string, op: 'presence', topic: string, watch?: boolean }

export type ChannelOp = ChannelClientFrame['op']

export type ChannelServerFrame =
  | ChannelOk
  | { ref: string | null, op: 'error', code: string, reason: string }
  | ChannelMessage
  | { op: 'presence', topic: string, event: 'join' | 'leave', member: PresenceMember }

/** The reply to a frame that worked; what else it carries depends on the op. */
export interface ChannelOk {
  ref: string
  op: 'ok'
  /** auth: the identity the connection now has. */
  user?: string
  /** join with `since`: true when every message after it followed (or will follow); false when
   *  the offset is older than the owner's log holds, so the retained snapshot was sent instead. */
  resumed?: boolean
  /** join with `since`, resumed false: the oldest offset the owner still holds. */
  oldest?: ChannelOffset | null
  /** presence: who is joined now, ring-wide. */
  members?: PresenceMember[]
}

/** A message of a joined topic. */
export interface ChannelMessage {
  op: 'message'
  /** The join it is for (a connection joined to overlapping filters gets one frame per join). */
  join: string
  topic: string
  /** The payload as JSON when it is UTF-8 JSON text; else base64 with `encoding: 'base64'`. */
  payload: unknown
  encoding?: 'base64'
  /** Its key and place in the key's log; absent for a retained message and for `$` (local) topics. */
  key?: string
  epoch?: number
  seq?: number
  retained: boolean
  /** The join's QoS 1: acknowledge with `{ op: 'ack', id }` (ids count up per connection). */
  id?: number
}

/** True when `a` comes after `b` in one key's log. */
export function offsetAfter(a: ChannelOffset, b: ChannelOffset): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq)
}
