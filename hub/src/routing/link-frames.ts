import { Decoder, Encoder } from '@msgpack/msgpack'
import { ProtocolError } from '../base/errors.js'

/**
 * Router link frames: `[length: u32 BE][version: u8][kind: u8][id: u32 BE][msgpack body]`, the
 * length counting everything after itself. Version 1. Kinds are append-only (STYLE §6).
 */
export const LINK_VERSION = 1
export const FRAME_HEADER_BYTES = 4 + 1 + 1 + 4

export const FrameKind = {
  /** First frame from the dialing hub: `{ id, boot }`, plus `{ nonce, mac }` answering a challenge. */
  hello: 1,
  /** One-way message. */
  message: 2,
  request: 3,
  reply: 4,
  /** The request failed at the receiver: `{ reason }`. */
  replyError: 5,
  /** From the accepting hub, first, when the ring has gossip keys: `{ nonce }` (16 random bytes). */
  challenge: 6,
  /** The accepting hub's answer to a good hello: `{ id, boot }`, plus `{ mac }` with gossip keys (`link-handshake.ts`). */
  welcome: 7,
  /**
   * Nothing else was sent for the sender's `beatMs`: the link is alive (no body). Only to a peer
   * whose hello or welcome announced `beatMs` (`link-handshake.ts`).
   */
  beat: 8,
} as const
export type FrameKind = typeof FrameKind[keyof typeof FrameKind]
const KINDS = new Set<number>(Object.values(FrameKind))

export interface Frame { kind: FrameKind, id: number, body: unknown }

// One encoder and one decoder for every frame: msgpack's encode()/decode() build a new one (and
// a 2 KiB buffer) per call, which was a good part of the link's garbage. encodeSharedRef returns
// a view of the encoder's buffer, copied into the frame at once; a reentrant call gets a clone.
const encoder = new Encoder()
const decoder = new Decoder()

export function encodeFrame(kind: FrameKind, id: number, body: unknown): Buffer {
  const packed = encoder.encodeSharedRef(body)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + packed.byteLength)
  frame.writeUInt32BE(frame.length - 4, 0)
  frame.writeUInt8(LINK_VERSION, 4)
  frame.writeUInt8(kind, 5)
  frame.writeUInt32BE(id >>> 0, 6)
  frame.set(packed, FRAME_HEADER_BYTES)
  return frame
}

/**
 * Splits a byte stream into frames. A frame longer than `maxFrameBytes`, another version, an
 * unknown kind or a body that is not msgpack throws ProtocolError: the connection is to be closed.
 */
export class FrameReader {
  #chunks: Buffer[] = []
  #buffered = 0

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received and not yet returned as frames: a frame begun and not ended. */
  get buffered(): number { return this.#buffered }

  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    const frames: Frame[] = []
    for (;;) {
      if (this.#buffered < 4) break
      const head = this.#peek(4)
      const length = head.readUInt32BE(0)
      if (length + 4 > this.maxFrameBytes) throw new ProtocolError('too-large', `router frame of ${length + 4} bytes (limit ${this.maxFrameBytes})`)
      if (length < FRAME_HEADER_BYTES - 4) throw new ProtocolError('malformed', `router frame too short (${length})`)
      if (this.#buffered < length + 4) break
      const frame = this.#take(length + 4)
      const version = frame.readUInt8(4)
      if (version !== LINK_VERSION) throw new ProtocolError('version', `router frame version ${version}`)
      const kind = frame.readUInt8(5)
      if (!KINDS.has(kind)) throw new ProtocolError('unknown-type', `router frame kind ${kind}`)
      let body: unknown
      try {
        body = decoder.decode(frame.subarray(FRAME_HEADER_BYTES))
      } catch (err) {
        throw new ProtocolError('malformed', 'router frame body is not msgpack', { cause: err })
      }
      frames.push({ kind: kind as FrameKind, id: frame.readUInt32BE(6), body })
    }
    return frames
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer
    return first.length >= n ? first : Buffer.concat(this.#chunks).subarray(0, n)
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0] as Buffer : Buffer.concat(this.#chunks)
    const out = all.subarray(0, n)
    const rest = all.subarray(n)
    this.#chunks = rest.length > 0 ? [rest] : []
    this.#buffered = rest.length
    return out
  }
}
