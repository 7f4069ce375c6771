/**
 * A device's "Recent telemetry" (the Devices tab's detail): the last value of each of its topics.
 * Read once over HTTP (`GET /api/v1/topics?prefix=devices/<id>/`), then kept live by the
 * channel join `devices/<id>/#`, or re-read every 2 s when no channel is available. Pure, no DOM.
 */
import type { TopicView } from '../../../../hub/src/contract/admin-api.js'
import type { ChannelMessage, ChannelOffset } from '../../../../hub/src/contract/channels.js'
import { isAfter } from './live-messages.js'

export interface TelemetryRow {
  topic: string
  payload: string
  encoding: 'utf8' | 'base64'
  /** When published (HTTP) or, for a channel message (no time on the wire), when received. */
  tsMs: number
  /** The key's offset of the value, when it came over the channel. */
  offset?: ChannelOffset
}

export class TelemetryRows {
  readonly #rows = new Map<string, TelemetryRow>()

  /**
   * Takes the hub's topic list (the initial read, or a poll). A row the channel filled keeps its
   * value when it is at least as recent (the list may have been read before that message).
   */
  setTopics(topics: readonly TopicView[]): void {
    const next = new Map<string, TelemetryRow>()
    for (const t of topics) {
      const current = this.#rows.get(t.topic)
      next.set(t.topic, current?.offset && current.tsMs >= t.lastTsMs ? current : { topic: t.topic, payload: t.lastPayload, encoding: t.encoding, tsMs: t.lastTsMs })
    }
    for (const [topic, row] of this.#rows) if (row.offset && !next.has(topic)) next.set(topic, row)
    this.#rows.clear()
    for (const [topic, row] of next) this.#rows.set(topic, row)
  }

  /**
   * A channel message of the device. A retained copy (sent on join, with no offset) only fills
   * a topic the list lacked: the list's last value is newer or the same. A numbered one replaces
   * the row unless the row already holds a later offset. Returns whether a row changed.
   */
  apply(m: ChannelMessage, receivedMs: number): boolean {
    const current = this.#rows.get(m.topic)
    const offset = m.epoch !== undefined && m.seq !== undefined ? { epoch: m.epoch, seq: m.seq } : undefined
    if (offset === undefined && current !== undefined) return false
    if (offset && current?.offset && !isAfter(offset, current.offset)) return false
    const base64 = m.encoding === 'base64'
    this.#rows.set(m.topic, {
      topic: m.topic, payload: base64 ? String(m.payload) : JSON.stringify(m.payload), encoding: base64 ? 'base64' : 'utf8',
      tsMs: receivedMs, ...(offset ? { offset } : {}),
    })
    return true
  }

  /** Most recent first. */
  rows(): TelemetryRow[] {
    return [...this.#rows.values()].sort((a, b) => b.tsMs - a.tsMs || (a.topic < b.topic ? -1 : 1))
  }
}
