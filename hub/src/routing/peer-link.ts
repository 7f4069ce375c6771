import type { Socket } from 'node:net'
import type { Clock, TimerHandle } from '../base/clock.js'
import { DeadlineMap } from '../base/deadline-map.js'
import { TransportError } from '../base/errors.js'
import { nextTurn } from '../base/next-turn.js'
import { FrameKind, encodeFrame, type Frame } from './link-frames.js'
import { asRouterReply, type DeliverBatchMessage, type DeliverItem, type DeliverMessage, type RouterReply } from './messages.js'

/** The bus's counters a link adds to. */
export interface LinkCounters { framesOut: number, bytesOut: number, dropped: number }

interface Pending { resolve: (reply: RouterReply) => void, reject: (err: Error) => void, timeoutMs: number }
/** A delivery's bytes on the wire beyond its payload, topic and key (field markers, numbers), at most. */
const DELIVERY_OVERHEAD_BYTES = 48

/**
 * The one link between this hub and a peer (`tcp-peer-bus.ts`): its connection once the
 * handshake is done (before, the socket being dialed, or none while the peer is awaited), one
 * queue for everything this hub sends the peer, so it all leaves in send order, and this hub's
 * requests waiting for their replies. Frames queued within one event-loop turn go out in one write,
 * and deliveries queued in a row leave as one `deliver-batch` frame (a frame per message was most
 * of the owner's link cost: an encoding, a header, a validation and a dispatch each).
 */
export class PeerLink {
  socket: Socket | undefined
  /** True once the handshake is done; frames are written only then. */
  open = false
  openedMs = 0
  /** Accepting end, before the peer has connected: when to give up waiting. */
  waitTimer: TimerHandle | undefined
  /** The peer's beat interval when both ends announced one: then each beats, and expects the other's beats. */
  peerBeatMs: number | undefined
  /** When bytes last came from the peer, and when this hub last wrote to it (monotonic ms, from the open). */
  heardMs = 0
  sentMs = 0
  /** `heardMs` when a watch pass found the link silent too long; it closes at the next pass unless bytes came meanwhile. */
  silentAt: number | undefined
  #queue: Buffer[] = []
  #queuedBytes = 0
  /** One-way messages in the queued frames (a delivery batch counts each): what closing drops. */
  #queuedMessages = 0
  /** Deliveries queued after the last frame, not encoded yet; they close into one frame. */
  #deliveries: DeliverMessage[] = []
  #deliveryBytes = 0
  #flushScheduled = false
  /** This hub's requests awaiting their replies; one past its deadline fails with `timeout`. */
  readonly #pending: DeadlineMap<number, Pending>

  constructor(readonly peer: string, private readonly clock: Clock, private readonly counters: LinkCounters) {
    this.#pending = new DeadlineMap(clock, (_id, p) => p.reject(new TransportError('timeout', `request to ${peer} timed out after ${p.timeoutMs} ms`)))
  }

  get hasQueued(): boolean { return this.#queue.length > 0 || this.#deliveries.length > 0 }

  /** The handshake is done on `socket`: what waited goes out. */
  opened(socket: Socket, peerBeatMs: number | undefined): void {
    this.clock.clearTimeout(this.waitTimer)
    this.waitTimer = undefined
    this.socket = socket
    this.open = true
    this.peerBeatMs = peerBeatMs
    this.openedMs = this.heardMs = this.sentMs = this.clock.monotonicMs()
    this.flush()
  }

  /** Bytes came from the peer. */
  heard(): void {
    this.heardMs = this.clock.monotonicMs()
  }

  /**
   * Queues a frame unless the bytes waiting for this peer (queued and in the socket) would pass
   * `maxQueuedBytes`; then nothing is queued and the caller drops the frame (back-pressure).
   */
  enqueue(frame: Buffer, maxQueuedBytes: number): boolean {
    if (this.#queuedBytes + (this.socket?.writableLength ?? 0) + frame.length > maxQueuedBytes) return false
    this.push(frame)
    this.#scheduleFlush()
    return true
  }

  /**
   * Queues a delivery, bounded like `enqueue`; it leaves with the deliveries queued right before
   * and after it, in one frame of at most half of `maxFrameBytes`.
   */
  enqueueDelivery(m: DeliverMessage, maxQueuedBytes: number, maxFrameBytes: number): boolean {
    const bytes = m.payload.byteLength + Buffer.byteLength(m.topic) + Buffer.byteLength(m.key) + DELIVERY_OVERHEAD_BYTES
    if (bytes > maxFrameBytes / 2) return false
    if (this.#queuedBytes + this.#deliveryBytes + (this.socket?.writableLength ?? 0) + bytes > maxQueuedBytes) return false
    if (this.#deliveryBytes + bytes > maxFrameBytes / 2) this.#closeDeliveries()
    this.#deliveries.push(m)
    this.#deliveryBytes += bytes
    this.#scheduleFlush()
    return true
  }

  /** Writes what is queued at the end of this event-loop turn (once the link is open). */
  #scheduleFlush(): void {
    if (!this.open || this.#flushScheduled) return
    this.#flushScheduled = true
    nextTurn(() => this.flush())
  }

  /** Queues a frame whatever the bound (a reply: the peer's own request bounds it); the caller flushes. */
  push(frame: Buffer): void {
    this.#closeDeliveries() // what was sent before it goes before it
    // Byte 5 of a frame is its kind (`link-frames.ts`).
    if (frame.readUInt8(5) === FrameKind.message) this.#queuedMessages++
    this.#queue.push(frame)
    this.#queuedBytes += frame.length
  }

  #closeDeliveries(): void {
    if (this.#deliveries.length === 0) return
    const body: DeliverMessage | DeliverBatchMessage = this.#deliveries.length === 1
      ? this.#deliveries[0] as DeliverMessage
      : { t: 'deliver-batch', items: this.#deliveries.map((d): DeliverItem => d.from ? [d.key, d.epoch, d.seq, d.topic, d.payload, d.qos, [d.from.epoch, d.from.seq]] : [d.key, d.epoch, d.seq, d.topic, d.payload, d.qos]) }
    const frame = encodeFrame(FrameKind.message, 0, body)
    this.#queuedMessages += this.#deliveries.length
    this.#deliveries = []
    this.#deliveryBytes = 0
    this.#queue.push(frame)
    this.#queuedBytes += frame.length
  }

  flush(): void {
    this.#flushScheduled = false
    this.#closeDeliveries()
    if (!this.open || this.#queue.length === 0 || !this.socket || this.socket.destroyed) return
    const bytes = this.#queue.length === 1 ? this.#queue[0] as Buffer : Buffer.concat(this.#queue)
    this.counters.framesOut += this.#queue.length
    this.counters.bytesOut += bytes.length
    this.#queue = []
    this.#queuedBytes = 0
    this.#queuedMessages = 0
    this.sentMs = this.clock.monotonicMs()
    this.socket.write(bytes)
  }

  /** Waits for the reply to request `id`, or fails with `timeout` after `timeoutMs`. */
  await(id: number, timeoutMs: number, resolve: (reply: RouterReply) => void, reject: (err: Error) => void): void {
    this.#pending.set(id, { resolve, reject, timeoutMs }, timeoutMs)
  }

  /** A reply or reply-error frame: settles its request. A reply that is not one throws ProtocolError (after failing the request). */
  settle(frame: Frame): void {
    const pending = this.#pending.take(frame.id)
    if (!pending) return // late: it timed out
    if (frame.kind === FrameKind.replyError) {
      const reason = (frame.body as { reason?: unknown } | null)?.reason
      pending.reject(new TransportError('closed', `peer failed the request: ${String(reason)}`))
      return
    }
    try {
      pending.resolve(asRouterReply(frame.body))
    } catch (err) {
      pending.reject(err as Error)
      throw err
    }
  }

  /** Closes the connection; queued messages are counted as dropped, pending requests fail with `error`. */
  close(error: Error): void {
    this.clock.clearTimeout(this.waitTimer)
    this.socket?.destroy()
    this.open = false
    this.counters.dropped += this.#queuedMessages + this.#deliveries.length
    this.#queuedMessages = 0
    this.#queue = []
    this.#queuedBytes = 0
    this.#deliveries = []
    this.#deliveryBytes = 0
    for (const p of this.#pending.clear()) p.reject(error)
  }
}
