import WebSocket from 'ws'
import type { AdminServerFrame } from '../../hub/src/contract/admin-api.js'
import { waitFor } from './wait.js'

/** A client of the admin WebSocket (`/api/v1/ws`) that records every frame it gets. */
export class AdminWsClient {
  readonly frames: AdminServerFrame[] = []
  closed: { code: number, reason: string } | undefined

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => { this.frames.push(JSON.parse(String(data)) as AdminServerFrame) })
    ws.on('close', (code, reason) => { this.closed = { code, reason: String(reason) } })
    ws.on('error', () => { /* the close event reports it */ })
  }

  /** Opens `ws://<admin>/api/v1/ws<query>`; rejects with the HTTP status when the upgrade is refused. */
  static open(admin: string, opts: { query?: string, headers?: Record<string, string> } = {}): Promise<AdminWsClient> {
    const ws = new WebSocket(`ws://${admin}/api/v1/ws${opts.query ?? ''}`, { headers: opts.headers })
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new AdminWsClient(ws)))
      ws.once('unexpected-response', (_req, res) => { ws.terminate(); reject(new Error(`HTTP ${res.statusCode}`)) })
      ws.once('error', reject)
    })
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends a frame and waits for the `ok` or `error` with its ref. */
  async call(frame: { ref: string } & Record<string, unknown>): Promise<AdminServerFrame> {
    this.send(frame)
    return this.next((f) => 'ref' in f && f.ref === frame.ref, `reply to ${frame.ref}`)
  }

  /** The first frame (already received or to come) matching `match`. */
  next<T extends AdminServerFrame>(match: (f: AdminServerFrame) => boolean, what: string, deadlineMs = 5_000, from = 0): Promise<T> {
    return waitFor(() => this.frames.slice(from).find(match) as T | undefined, what, deadlineMs)
  }

  of<Op extends AdminServerFrame['op']>(op: Op): Array<Extract<AdminServerFrame, { op: Op }>> {
    return this.frames.filter((f) => f.op === op) as Array<Extract<AdminServerFrame, { op: Op }>>
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()))
    this.ws.terminate()
    await closed
  }
}
