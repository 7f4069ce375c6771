import type { Duplex } from 'node:stream'
import { bytesToCheck, checkBody, checkHeader, checkPublishAt, type PacketRejection } from './packet-rules.js'

/**
 * A byte-level guard in front of aedes' packet parser. aedes (via mqtt-packet) buffers a whole
 * packet before it looks at it, so a peer that claims a 268 MB Remaining Length and streams
 * garbage makes the broker hold all of it. The guard walks packet boundaries as bytes are read
 * (fixed header + Remaining Length, then skips the body arithmetically, without copying) and
 * rejects the connection the moment a header is wrong:
 *  - the first packet is not CONNECT           [MQTT-3.1.0-1]
 *  - a second CONNECT                          [MQTT-3.1.0-2]
 *  - a reserved packet type (0 or 15)          [MQTT-2.2.1]
 *  - a Remaining Length longer than 4 bytes    [MQTT-2.2.3]
 *  - a packet larger than maxPacketBytes       (before its body is buffered)
 *  - a CONNECT with a protocol level other than 3, 4 or 5: answered with CONNACK 0x01
 *    [MQTT-3.1.2-2] (mqtt-packet treats such a CONNECT as a parse error, so aedes would close
 *    without it); level 5 reaches aedes, which answers 0x01 itself.
 *  - a packet breaking one of the rules in packet-rules.ts (strings that are not UTF-8 or hold
 *    U+0000, packet id 0, server-to-client packet types, …), which mqtt-packet and aedes let
 *    through. Only the bytes those rules read are copied: a whole CONNECT, SUBSCRIBE or
 *    UNSUBSCRIBE (never over maxPacketBytes), a PUBLISH's topic and packet id.
 * A packet is judged before aedes gets the chunk holding its last byte, so a refused packet is
 * never acted on.
 */
export type FrameRejection = 'first-packet-not-connect' | 'second-connect' | 'reserved-packet-type' | 'malformed-remaining-length' | 'packet-too-large' | 'unacceptable-protocol-level' | PacketRejection

/** CONNACK with return code 0x01, unacceptable protocol version (MQTT 3.1.1 §3.2.2.3). */
export const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])

/** Bytes of the CONNECT body that hold the protocol name and level: 2 + "MQIsdp" + 1. */
const CONNECT_PREFIX_BYTES = 9

const enum Phase { Header, Length, Body }

export class FrameScanner {
  #phase = Phase.Header
  #packets = 0
  #headerByte = 0
  #length = 0
  #multiplier = 1
  #lengthBytes = 0
  #bodyLeft = 0
  /** The start of the CONNECT body, gathered across reads until the protocol level is known. */
  #connectPrefix: number[] | undefined = []
  /** Leading body bytes of the current packet that packet-rules.ts wants to read, copied as they arrive. */
  #checked: Buffer[] = []
  #checkedBytes = 0
  /** How many leading body bytes to copy (0: nothing to check in this packet). */
  #checkWanted = 0

  constructor(readonly maxPacketBytes: number) {}

  /** Packets whose header has been fully read so far. */
  get packets(): number { return this.#packets }

  /** True while a packet has begun and not ended: the stream ending now cuts it short. */
  get midPacket(): boolean { return this.#phase !== Phase.Header }

  /** Scans the next chunk of the stream; returns why to reject, or undefined when all is well. */
  scan(buf: Uint8Array): FrameRejection | undefined {
    let i = 0
    const n = buf.length
    while (i < n) {
      switch (this.#phase) {
        case Phase.Body: {
          if (this.#connectPrefix) {
            const verdict = this.#gatherConnectPrefix(buf, i)
            if (verdict) return verdict
          }
          if (this.#checkWanted > this.#checkedBytes) {
            const verdict = this.#gatherChecked(buf, i)
            if (verdict) return verdict
          }
          const take = Math.min(this.#bodyLeft, n - i)
          i += take
          this.#bodyLeft -= take
          if (this.#bodyLeft === 0) this.#phase = Phase.Header
          break
        }
        case Phase.Header: {
          const b = buf[i++] as number
          const type = b >> 4
          if (this.#packets === 0 && b !== 0x10) return 'first-packet-not-connect'
          if (this.#packets > 0 && type === 1) return 'second-connect'
          if (type === 0 || type === 15) return 'reserved-packet-type'
          this.#headerByte = b
          this.#length = 0
          this.#multiplier = 1
          this.#lengthBytes = 0
          this.#phase = Phase.Length
          break
        }
        case Phase.Length: {
          const b = buf[i++] as number
          this.#length += (b & 0x7f) * this.#multiplier
          this.#multiplier *= 128
          this.#lengthBytes++
          if (b & 0x80) {
            if (this.#lengthBytes === 4) return 'malformed-remaining-length'
            break
          }
          if (1 + this.#lengthBytes + this.#length > this.maxPacketBytes) return 'packet-too-large'
          const verdict = checkHeader(this.#headerByte, this.#length)
          if (verdict) return verdict
          this.#packets++
          this.#bodyLeft = this.#length
          if (this.#packets === 1 && this.#length === 0) this.#connectPrefix = undefined
          this.#checked = []
          this.#checkedBytes = 0
          this.#checkWanted = bytesToCheck(this.#headerByte, this.#length, undefined)
          this.#phase = this.#bodyLeft === 0 ? Phase.Header : Phase.Body
          break
        }
      }
    }
    return undefined
  }

  /**
   * Copies CONNECT body bytes (without consuming them) until the protocol level can be read, then
   * judges it. Runs only for the first packet, on at most CONNECT_PREFIX_BYTES bytes.
   */
  #gatherConnectPrefix(buf: Uint8Array, from: number): FrameRejection | undefined {
    const prefix = this.#connectPrefix as number[]
    const seenBody = this.#length - this.#bodyLeft
    const available = Math.min(this.#bodyLeft, buf.length - from)
    for (let k = 0; k < available && seenBody + k === prefix.length && prefix.length < CONNECT_PREFIX_BYTES; k++) {
      prefix.push(buf[from + k] as number)
    }
    if (prefix.length < 2) return undefined
    const nameLength = ((prefix[0] as number) << 8) | (prefix[1] as number)
    // Only MQTT ("MQTT", 4) and MQTT 3.1 ("MQIsdp", 6) have a level we can judge; other names are
    // left to the parser, which closes the connection [MQTT-3.1.2-1].
    if (nameLength !== 4 && nameLength !== 6) { this.#connectPrefix = undefined; return undefined }
    const levelAt = 2 + nameLength
    if (prefix.length <= levelAt) {
      if (seenBody + available >= this.#length) this.#connectPrefix = undefined // body too short: the parser decides
      return undefined
    }
    this.#connectPrefix = undefined
    const level = (prefix[levelAt] as number) & 0x7f // the top bit marks a bridge (Mosquitto)
    return level === 3 || level === 4 || level === 5 ? undefined : 'unacceptable-protocol-level'
  }

  /**
   * Copies the body bytes packet-rules.ts reads (without consuming them) and judges the packet
   * once it has them all. A PUBLISH asks twice: its topic length, then its topic and packet id.
   */
  #gatherChecked(buf: Uint8Array, from: number): FrameRejection | undefined {
    const seenBody = this.#length - this.#bodyLeft
    const available = Math.min(this.#bodyLeft, buf.length - from)
    if (seenBody === 0) {
      // The usual case: what the rules read is all in this read. Judge it in place, no copy.
      const publish = this.#headerByte >> 4 === 3
      // A PUBLISH: its topic (length-prefixed) and, at QoS 1/2, its packet id; as bytesToCheck.
      const wanted = publish && available >= 2
        ? Math.min(this.#length, 2 + (((buf[from] as number) << 8) | (buf[from + 1] as number)) + ((this.#headerByte & 0x06) !== 0 ? 2 : 0))
        : this.#checkWanted
      if (available >= wanted) {
        this.#checkWanted = 0
        return publish ? checkPublishAt(this.#headerByte, buf, from, from + wanted) : checkBody(this.#headerByte, buf.subarray(from, from + wanted))
      }
    }
    let offset = this.#checkedBytes - seenBody // bytes of this chunk already copied (a PUBLISH's second ask)
    for (;;) {
      const take = Math.min(this.#checkWanted - this.#checkedBytes, available - offset)
      if (take <= 0) return undefined
      this.#checked.push(Buffer.from(buf.subarray(from + offset, from + offset + take)))
      this.#checkedBytes += take
      offset += take
      if (this.#checkedBytes < this.#checkWanted) return undefined
      const body = this.#checked.length === 1 ? this.#checked[0] as Buffer : Buffer.concat(this.#checked)
      this.#checked = [body]
      const wanted = bytesToCheck(this.#headerByte, this.#length, body)
      if (wanted > this.#checkWanted) { this.#checkWanted = wanted; continue }
      this.#checkWanted = 0
      this.#checked = []
      return checkBody(this.#headerByte, body)
    }
  }

  /** The first byte of the packet being read (for logs). */
  get currentHeaderByte(): number { return this.#headerByte }
}

export interface FrameGuardHooks {
  onBytes(count: number): void
  onReject(reason: FrameRejection | 'truncated'): void
}

/**
 * Installs the guard on a stream before it is handed to aedes. aedes reads with
 * `conn.read(null)` on 'readable' (lib/client.js), so wrapping `read` on this one instance sees
 * every byte aedes will see, with no extra stream stage on the hot path.
 */
export function installFrameGuard(conn: Duplex, maxPacketBytes: number, hooks: FrameGuardHooks): FrameScanner {
  const scanner = new FrameScanner(maxPacketBytes)
  const originalRead = conn.read
  let rejected = false
  // The peer ended the stream inside a packet: aedes never sees it whole, and counts nothing.
  conn.once('end', () => { if (!rejected && scanner.midPacket) hooks.onReject('truncated') })
  conn.read = function guardedRead(this: Duplex, size?: number) {
    if (rejected) return null
    const chunk: unknown = originalRead.call(this, size)
    if (chunk === null || !(chunk instanceof Uint8Array)) return chunk
    hooks.onBytes(chunk.length)
    const reason = scanner.scan(chunk)
    if (reason === undefined) return chunk
    rejected = true
    hooks.onReject(reason)
    if (reason === 'unacceptable-protocol-level') {
      // [MQTT-3.1.2-2]: answer CONNACK 0x01, then disconnect.
      this.end(CONNACK_UNACCEPTABLE_PROTOCOL, () => this.destroy())
    } else {
      this.destroy()
    }
    return null
  }
  return scanner
}
