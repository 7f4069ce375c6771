/**
 * A topic's messages as the topic detail keeps them: the stored history (HTTP), continued live
 * by the channel (`ringhub/channels`) or, as a fallback, the sampled tap. Pure, no DOM.
 */
import type { TopicMessage } from '../../../../hub/src/contract/admin-api.js'
import type { ChannelMessage, ChannelOffset } from '../../../../hub/src/contract/channels.js'

/**
 * One message shown. A channel frame carries no publish time and no QoS (docs/channels.md):
 * `tsMs` is then when the UI received it, `qos` is absent and `live` says so.
 */
export type ShownMessage = Omit<TopicMessage, 'qos'> & { qos?: TopicMessage['qos'], live?: 'channel' }

/** The newest offset of `messages` (oldest first), where a join continues from; undefined when empty. */
export function newestOffset(messages: readonly ShownMessage[]): ChannelOffset | undefined {
  const last = messages[messages.length - 1]
  return last ? { epoch: last.epoch, seq: last.seq } : undefined
}

/**
 * A channel message as shown, or undefined when it has no place in the key's log (a retained
 * copy sent on join, a `$` topic): those repeat what the history holds. A JSON payload comes
 * parsed; it is shown as its JSON text (the stored bytes may differ in spacing).
 */
export function fromChannel(m: ChannelMessage, receivedMs: number): ShownMessage | undefined {
  if (m.epoch === undefined || m.seq === undefined) return undefined
  const base64 = m.encoding === 'base64'
  return {
    topic: m.topic, epoch: m.epoch, seq: m.seq, tsMs: receivedMs, retain: m.retained,
    payload: base64 ? String(m.payload) : JSON.stringify(m.payload), encoding: base64 ? 'base64' : 'utf8', live: 'channel',
  }
}

/** Whether `a` comes after `b` in a key's log. */
export function isAfter(a: ChannelOffset, b: ChannelOffset): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq)
}

/**
 * Appends `m` when it is after the newest kept (never twice, never backwards), dropping the
 * oldest beyond `limit`. Returns how many were dropped from the front, or -1 when `m` was not added.
 */
export function appendInOrder(messages: ShownMessage[], m: ShownMessage, limit: number): number {
  const newest = newestOffset(messages)
  if (newest && !isAfter(m, newest)) return -1
  messages.push(m)
  const over = Math.max(0, messages.length - limit)
  if (over > 0) messages.splice(0, over)
  return over
}
