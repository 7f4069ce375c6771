import type { WebSocket } from 'ws'
import type { Clock } from '../base/clock.js'
import type { Identity } from '../mqtt/acl.js'
import { offsetAfter, type ChannelMessage, type ChannelOffset, type ChannelServerFrame, type PresenceMember } from '../contract/channels.js'
import { framePayload } from './channel-frames.js'

/** Unsent bytes beyond which a channel connection counts as a slow consumer and is closed. */
export const SLOW_CONSUMER_BYTES = 4 * 1024 * 1024
/** QoS 1 joins: message frames sent and not yet acknowledged, at most (MQTT's receive maximum). */
export const MAX_UNACKED = 100
/** QoS 1 joins: messages waiting behind the unacknowledged ones; beyond: slow consumer. */
export const MAX_WAITING = 1_000
/** Live messages held while a join reads its key's log from an offset; beyond: slow consumer. */
export const MAX_CATCH_UP_BUFFER = 10_000
/** Close code for a slow consumer (a private code, 4000-4999). */
export const CLOSE_SLOW = 4008

/** A message for a join: what the hub's bus delivered, or a log entry read on resume. */
export interface ChannelInput {
  topic: string
  payload: Buffer
  /** Key and offset of a ring message; undefined for `$` topics and retained messages. */
  key?: string
  offset?: ChannelOffset
  retained: boolean
}

/** What one message of the hub's bus looks like to a listener (aedes' packet). */
export interface BusPacket { topic: string, [field: string]: unknown }
export type BusListener = (packet: BusPacket, done: () => void) => void

/** One joined filter of a connection. */
export class Join {
  /** Live messages held while the log is read from `since` (undefined: live). */
  catchUp: ChannelInput[] | undefined
  /** Its listener on the hub's bus, once registered. */
  listener: BusListener | undefined
  /** The last offset sent per key: a repeat or an older one is not sent again. */
  readonly #last = new Map<string, ChannelOffset>()

  constructor(readonly topic: string, readonly qos: 0 | 1, catchingUp: boolean) {
    this.catchUp = catchingUp ? [] : undefined
  }

  /** True when `input` is new for this join (and remembers it as the key's last). */
  fresh(input: ChannelInput): boolean {
    if (input.key === undefined || input.offset === undefined) return true
    const last = this.#last.get(input.key)
    if (last && !offsetAfter(input.offset, last)) return false
    this.#last.set(input.key, input.offset)
    return true
  }
}

/**
 * One channel connection (docs/channels.md): its identity, its joins, and what it is sent —
 * message frames in order, QoS 1 ones numbered and held back beyond MAX_UNACKED until acked.
 * A connection that does not read (bufferedAmount over SLOW_CONSUMER_BYTES, or QoS 1 messages
 * beyond MAX_WAITING) is closed with CLOSE_SLOW; `onSlow` counts it.
 */
export class ChannelSession {
  readonly joins = new Map<string, Join>()
  /** Topics whose presence events this connection watches. */
  readonly watching = new Set<string>()
  identity: Identity | undefined
  /** Publishes sent to the ring and not yet answered (bounded like MQTT's inbound inflight). */
  publishing = 0
  #nextId = 1
  #acked = 0
  readonly #waiting: ChannelMessage[] = []
  #closed = false

  constructor(readonly id: string, readonly hub: string, private readonly ws: WebSocket, private readonly hooks: { clock: Clock, onSlow: () => void, onSent: () => void }) {}

  get closed(): boolean { return this.#closed || this.ws.readyState !== this.ws.OPEN }

  member(): PresenceMember {
    return { id: this.id, hub: this.hub, ...(this.identity?.username !== undefined ? { user: this.identity.username } : {}) }
  }

  /** Stops reading frames from the client (its publishes in flight are at their bound). */
  pauseReading(): void { this.ws.pause() }
  resumeReading(): void { this.ws.resume() }

  /** A reply, an error or a presence event: always sent (bounded by the slow-consumer rule). */
  send(frame: ChannelServerFrame): void {
    if (this.closed) return
    if (this.ws.bufferedAmount > SLOW_CONSUMER_BYTES) return this.slow()
    this.ws.send(JSON.stringify(frame))
  }

  /** A message for `join`: sent now, held while the join catches up, or queued behind unacked ones. */
  deliver(join: Join, input: ChannelInput): void {
    if (this.closed) return
    if (join.catchUp) {
      if (join.catchUp.length >= MAX_CATCH_UP_BUFFER) return this.slow()
      join.catchUp.push(input)
      return
    }
    if (!join.fresh(input)) return
    this.#emit(join, input)
  }

  /** Ends a join's catch-up: the log's messages (already checked by the caller), then what was held. */
  finishCatchUp(join: Join, fromLog: readonly ChannelInput[]): void {
    const held = join.catchUp ?? []
    join.catchUp = undefined
    for (const input of fromLog) if (join.fresh(input)) this.#emit(join, input)
    for (const input of held) if (join.fresh(input)) this.#emit(join, input)
  }

  /** The client has every message frame up to `id`: frames held back may go now. */
  ack(id: number): void {
    if (id <= this.#acked || id >= this.#nextId) return
    this.#acked = id
    while (this.#waiting.length > 0 && this.#nextId - 1 - this.#acked < MAX_UNACKED) {
      this.#sendMessage(this.#waiting.shift() as ChannelMessage)
    }
  }

  #emit(join: Join, input: ChannelInput): void {
    const frame: ChannelMessage = {
      op: 'message',
      join: join.topic,
      topic: input.topic,
      ...framePayload(input.payload),
      ...(input.offset && input.key !== undefined ? { key: input.key, epoch: input.offset.epoch, seq: input.offset.seq } : {}),
      retained: input.retained,
    }
    if (join.qos === 0) return this.#sendMessage(frame)
    if (this.#waiting.length > 0 || this.#nextId - 1 - this.#acked >= MAX_UNACKED) {
      if (this.#waiting.length >= MAX_WAITING) return this.slow()
      this.#waiting.push({ ...frame, id: 0 })
      return
    }
    this.#sendMessage({ ...frame, id: 0 })
  }

  /** Sends a message frame, numbering it when it needs an ack (`id` present). */
  #sendMessage(frame: ChannelMessage): void {
    if (frame.id !== undefined) frame.id = this.#nextId++
    this.send(frame)
    this.hooks.onSent()
  }

  /** Closes the connection as a slow consumer (once). */
  slow(): void {
    if (this.#closed) return
    this.#closed = true
    this.hooks.onSlow()
    this.ws.close(CLOSE_SLOW, 'slow consumer')
    // A client that reads nothing would not read the close frame either.
    this.hooks.clock.setTimeout(() => this.ws.terminate(), 1_000).unref()
  }
}
