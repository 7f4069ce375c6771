import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Clock, TimerHandle } from '../base/clock.js'
import type { AdminServerFrame, TapMessage } from '../contract/admin-api.js'
import type { AdminMetrics } from './admin-metrics.js'
import type { ChannelProvider, SubscribeFrame, Subscriber } from './admin-ws.js'
import { encodePayload } from './topic-tracker.js'
import { TAP_DEFAULT_MAX_PER_S } from './ws-frames.js'

/** Frames per second at most: messages let through are batched into one frame per period. */
export const TAP_FLUSH_MS = 100
/** Payload bytes a tap message carries at most; longer ones are cut and marked `truncated`. */
export const TAP_MAX_PAYLOAD_BYTES = 16 * 1024
/**
 * Bytes of messages one tap frame carries at most; beyond, messages are skipped (counted) until
 * the next flush. Without it a flush delayed by a busy process carried a whole second's worth
 * (500 × 16 KiB): one frame took a slow socket past its close bound before any frame could be
 * dropped.
 */
export const TAP_MAX_FRAME_BYTES = 256 * 1024
/** A tap message's JSON beyond its payload and topic (field names, numbers), about. */
const TAP_MESSAGE_OVERHEAD_BYTES = 120

/**
 * The rate bound of one tap: at most `maxPerS` messages in any 1000 ms window (sliding, not
 * calendar seconds: a window restarted per second let up to twice the bound through across its
 * edge). Keeps the times of the last `maxPerS` messages let through; the next one may pass once
 * the oldest of them is a second old.
 */
export class SlidingRateLimit {
  readonly #times: number[]
  #next = 0

  constructor(readonly maxPerS: number) {
    this.#times = new Array<number>(maxPerS).fill(Number.NEGATIVE_INFINITY)
  }

  /** Whether one more message at `nowMs` (monotonic) stays within the bound. */
  allows(nowMs: number): boolean {
    return nowMs - (this.#times[this.#next] as number) >= 1000
  }

  /** Counts a message let through at `nowMs` (after `allows` said yes). */
  record(nowMs: number): void {
    this.#times[this.#next] = nowMs
    this.#next = (this.#next + 1) % this.#times.length
  }
}

/**
 * The live tap (`tap` channel): one subscription on the broker's bus per socket, so it sees what
 * a client subscribed to the filter would see, ring-routed messages included. At most `maxPerS`
 * messages in any second are let through (`SlidingRateLimit`; the rest are counted as
 * `skipped`), batched into at most 10 frames a second.
 */
export class LiveTap implements ChannelProvider {
  constructor(private readonly deps: { broker: Aedes, clock: Clock, metrics: AdminMetrics }) {}

  open(sub: Subscriber, frame: SubscribeFrame): { stop: () => void } | string {
    if (frame.channel !== 'tap') return 'not a tap subscription'
    const { broker, clock, metrics } = this.deps
    const maxPerS = frame.maxPerS ?? TAP_DEFAULT_MAX_PER_S
    let batch: TapMessage[] = []
    let batchBytes = 0
    let skipped = 0
    const rate = new SlidingRateLimit(maxPerS)
    let stopped = false
    const skip = (): void => {
      skipped++
      metrics.tapSkipped.inc()
    }
    const listener = (packet: AedesPublishPacket, done: () => void): void => {
      done()
      if (stopped) return
      const now = clock.monotonicMs()
      if (!rate.allows(now)) return skip()
      const message = tapMessage(packet, clock.now())
      const bytes = message.payload.length + message.topic.length + TAP_MESSAGE_OVERHEAD_BYTES
      // A message the frame's byte bound skips does not use up the rate.
      if (batchBytes + bytes > TAP_MAX_FRAME_BYTES) return skip()
      rate.record(now)
      batchBytes += bytes
      batch.push(message)
    }
    const flush = (): void => {
      if (batch.length === 0 && skipped === 0) return
      const out: AdminServerFrame = { op: 'tap', messages: batch, skipped }
      batch = []
      batchBytes = 0
      skipped = 0
      sub.send(out, true)
    }
    const timer: TimerHandle = clock.setInterval(flush, TAP_FLUSH_MS)
    timer.unref()
    // Resolves once the ring knows of the interest; an unsubscribe must not overtake it (the
    // listener would stay on the bus for good).
    const subscribed = new Promise<void>((resolve) => { broker.subscribe(frame.filter, listener, () => resolve()) })
    return {
      stop: () => {
        stopped = true
        clock.clearInterval(timer)
        void subscribed.then(() => { broker.unsubscribe(frame.filter, listener, () => {}) })
      },
    }
  }
}

function tapMessage(packet: AedesPublishPacket, nowMs: number): TapMessage {
  const full = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
  const truncated = full.length > TAP_MAX_PAYLOAD_BYTES
  const { lastPayload, encoding } = encodePayload(truncated ? full.subarray(0, TAP_MAX_PAYLOAD_BYTES) : full)
  const message: TapMessage = { topic: packet.topic, payload: lastPayload, encoding, qos: packet.qos, retain: packet.retain, tsMs: nowMs }
  // Ring deliveries carry the owner's numbering as brokerId `<key>@<epoch>`, brokerCounter seq.
  const numbered = /@(\d+)$/.exec(String((packet as { brokerId?: unknown }).brokerId ?? ''))
  if (numbered) {
    message.epoch = Number(numbered[1])
    message.seq = Number((packet as { brokerCounter?: unknown }).brokerCounter)
  }
  if (truncated) message.truncated = true
  return message
}
