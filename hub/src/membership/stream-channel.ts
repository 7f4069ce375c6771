import { ProtocolError } from '../base/errors.js'
import type { Transport } from '../transport/transport.js'
import { decodePacket, encodePacket } from './codec.js'
import type { MemberTable } from './member-table.js'
import type { Decoded, PingMessage, PushPullMessage } from './messages.js'
import { localState, mergeState } from './push-pull.js'
import type { PacketSecurity } from './security.js'

/**
 * The reliable channel (TCP in production, one request and one response per exchange): push-pull
 * state sync (memberlist `pushPullNode` / `handleConn`) and the fallback ping that keeps a member
 * whose datagrams are lost from being suspected. One dispatcher (`serve`), one handler per
 * request type. Bad input is handed to `rejected` (counted and logged by the caller) and ends
 * the exchange; it never changes membership.
 */
export class StreamChannel {
  constructor(private readonly deps: {
    transport: Transport
    security: PacketSecurity
    table: MemberTable
    /** Push-pull deadline (the profile's `tcpTimeoutMs`). */
    tcpTimeoutMs: number
    rejected: (from: string, err: unknown) => void
  }) {}

  /** Full state exchange with `address`; rejects if it fails or answers with garbage. */
  async pushPull(address: string, join: boolean): Promise<void> {
    const { transport, security, table } = this.deps
    const response = await transport.request(address, security.seal(encodePacket(localState(table, join))), this.deps.tcpTimeoutMs)
    const message = this.#open(address, response)
    if (message.type !== 'push-pull') throw this.#refuse(address, new ProtocolError('bad-field', `push-pull answered with ${message.type}`))
    mergeState(table, message.members)
  }

  /** Sends `ping` over the reliable channel: true if the matching ack came back in time. */
  async ping(address: string, ping: PingMessage, timeoutMs: number): Promise<boolean> {
    const { transport, security } = this.deps
    const response = await transport.request(address, security.seal(encodePacket(ping)), timeoutMs)
    const message = this.#open(address, response)
    if (message.type !== 'ack' || message.seq !== ping.seq) throw this.#refuse(address, new ProtocolError('bad-field', `TCP ping answered with ${message.type}`))
    return true
  }

  /** The request handler (`Transport.onRequest`): the response, or a rejection that closes the stream. */
  async serve(from: string, data: Uint8Array): Promise<Uint8Array> {
    const message = this.#open(from, data)
    switch (message.type) {
      case 'push-pull': return this.#answerPushPull(message)
      case 'ping': return this.#answerPing(message)
      default: throw this.#refuse(from, new ProtocolError('not-a-request', `${message.type} does not belong on the reliable channel`))
    }
  }

  #answerPushPull(request: PushPullMessage): Uint8Array {
    // Our state as it was before theirs is merged, as memberlist answers.
    const response = this.deps.security.seal(encodePacket(localState(this.deps.table, false)))
    mergeState(this.deps.table, request.members)
    return response
  }

  #answerPing(ping: PingMessage): Uint8Array {
    // Meant for another id that used to live at this address: closing the stream is the answer.
    if (ping.target !== this.deps.table.self.id) throw new ProtocolError('wrong-target', `ping for ${ping.target}`)
    return this.deps.security.seal(encodePacket({ type: 'ack', seq: ping.seq }))
  }

  #open(from: string, data: Uint8Array): Decoded {
    try {
      return decodePacket(this.deps.security.open(data))
    } catch (err) {
      throw this.#refuse(from, err)
    }
  }

  #refuse(from: string, err: unknown): unknown {
    this.deps.rejected(from, err)
    return err
  }
}
