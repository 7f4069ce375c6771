import WebSocket from 'ws'
import type { ChannelMessage, ChannelServerFrame } from '../../hub/src/contract/channels.js'
import { waitFor } from './wait.js'

/** A raw channel connection (docs/channels.md) for tests: every frame it receives, in order. */
export class RawChannel {
  readonly frames: ChannelServerFrame[] = []
  closed: { code: number, reason: string } | undefined
  #ref = 0

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => { this.frames.push(JSON.parse(String(data)) as ChannelServerFrame) })
    ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() } })
    ws.on('error', () => { /* the close event follows */ })
  }

  /** `tls`: over the admin TLS port (wss), trusting `ca`, with a client certificate when given. */
  static async open(adminPort: number, opts: { headers?: Record<string, string>, path?: string, tls?: { ca: Buffer, cert?: Buffer, key?: Buffer } } = {}): Promise<RawChannel> {
    const scheme = opts.tls ? 'wss' : 'ws'
    const ws = new WebSocket(`${scheme}://127.0.0.1:${adminPort}${opts.path ?? '/channels'}`, { headers: opts.headers ?? {}, ...opts.tls })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })
    return new RawChannel(ws)
  }

  get messages(): ChannelMessage[] {
    return this.frames.filter((f): f is ChannelMessage => f.op === 'message')
  }

  sendRaw(data: string | Buffer, binary = false): void { this.ws.send(data, { binary }) }

  /** Sends `frame` with a fresh ref and resolves with the reply (ok or error) to it. */
  async request(frame: Record<string, unknown>, deadlineMs = 5_000): Promise<ChannelServerFrame> {
    const ref = `t${++this.#ref}`
    this.ws.send(JSON.stringify({ ref, ...frame }))
    let reply: ChannelServerFrame | undefined
    await waitFor(() => (reply = this.frames.find((f) => 'ref' in f && f.ref === ref)) !== undefined, `reply to ${JSON.stringify(frame)}`, deadlineMs)
    return reply as ChannelServerFrame
  }

  close(): void { this.ws.terminate() }
}
