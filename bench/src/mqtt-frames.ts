import { generate } from 'mqtt-packet'

/**
 * Byte-level MQTT 3.1.1 helpers for the load generator's hot path. mqtt-packet's parser builds an
 * object (and copies the payload) for every packet, which on a 2-core machine would make the load
 * generator cost about as much as the broker it measures. Here the stream is only split into
 * frames; PUBLISH and PUBACK are read in place and every other packet (CONNACK, SUBACK: rare) is
 * handed to mqtt-packet's parser by the caller.
 */

export const PUBLISH = 3
export const PUBACK = 4

/** Called once per complete frame; the frame is `buf[start, end)`, its body starts at `bodyStart`. */
export type FrameHandler = (buf: Buffer, start: number, bodyStart: number, end: number) => void

export class MalformedFrameError extends Error {
  override readonly name = 'MalformedFrameError'
}

/** Splits a byte stream into MQTT frames without copying, except for a frame cut across chunks. */
export class FrameSplitter {
  #pending: Buffer | undefined

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    let pos = 0
    while (pos < buf.length) {
      // Remaining Length: 1-4 bytes, 7 bits each, least significant first [MQTT-2.2.3].
      let length = 0
      let multiplier = 1
      let i = pos + 1
      let complete = false
      while (i < buf.length) {
        const b = buf[i++] as number
        length += (b & 0x7f) * multiplier
        multiplier *= 128
        if ((b & 0x80) === 0) { complete = true; break }
        if (i - pos > 4) throw new MalformedFrameError('Remaining Length longer than 4 bytes')
      }
      if (!complete || i + length > buf.length) break
      this.onFrame(buf, pos, i, i + length)
      pos = i + length
    }
    if (pos < buf.length) this.#pending = buf.subarray(pos)
  }
}

/** Packet type of the frame starting at `start`. */
export function frameType(buf: Buffer, start: number): number {
  return (buf[start] as number) >> 4
}

/** Where a PUBLISH frame's parts are (offsets into the same buffer). */
export interface PublishView {
  qos: number
  /** Packet identifier, 0 at QoS 0. */
  messageId: number
  payloadStart: number
}

/** Reads the header fields of a PUBLISH frame in place. */
export function readPublish(buf: Buffer, start: number, bodyStart: number): PublishView {
  const qos = ((buf[start] as number) >> 1) & 0x03
  const topicLength = buf.readUInt16BE(bodyStart)
  const afterTopic = bodyStart + 2 + topicLength
  const messageId = qos > 0 ? buf.readUInt16BE(afterTopic) : 0
  return { qos, messageId, payloadStart: qos > 0 ? afterTopic + 2 : afterTopic }
}

/** A PUBLISH packet generated once by mqtt-packet, copied and patched for every message sent. */
export interface PublishTemplate {
  bytes: Buffer
  /** Offset of the 2-byte packet identifier (QoS > 0), or -1. */
  messageIdOffset: number
  /** Offset of the first payload byte. */
  payloadOffset: number
}

export function publishTemplate(topic: string, qos: 0 | 1, payloadBytes: number): PublishTemplate {
  const payload = Buffer.alloc(payloadBytes, 0x61)
  const bytes = generate({ cmd: 'publish', topic, payload, qos, dup: false, retain: false, ...(qos > 0 ? { messageId: 1 } : {}) })
  const payloadOffset = bytes.length - payloadBytes
  return { bytes, payloadOffset, messageIdOffset: qos > 0 ? payloadOffset - 2 : -1 }
}

/** PUBACK for `messageId`, written at `offset` of `out` (4 bytes). */
export function writePuback(out: Buffer, offset: number, messageId: number): void {
  out[offset] = PUBACK << 4
  out[offset + 1] = 2
  out.writeUInt16BE(messageId, offset + 2)
}
