import type { WebSocketLike } from '../../hub/src/client/channels.js'

/**
 * A WebSocket the test drives, for the `ringhub/channels` client: what the client sent, and
 * hooks to open, answer and close it. Every one made is in `FakeSocket.all` (reset it per test).
 */
export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = []
  readyState = 0
  readonly sent: Array<Record<string, unknown>> = []
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: { code: number, reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  constructor(readonly url: string) { FakeSocket.all.push(this) }
  send(data: string): void { this.sent.push(JSON.parse(data) as Record<string, unknown>) }
  close(code = 1000, reason = ''): void { if (this.readyState !== 3) { this.readyState = 3; this.onclose?.({ code, reason }) } }
  open(): void { this.readyState = 1; this.onopen?.({}) }
  receive(frame: object): void { this.onmessage?.({ data: JSON.stringify(frame) }) }
  /** The frames of `op` sent so far. */
  frames(op: string): Array<Record<string, unknown>> { return this.sent.filter((f) => f.op === op) }
  /** Answers request `ref` with ok (plus `frame`). */
  answer(ref: unknown, frame: object = {}): void { this.receive({ ref, op: 'ok', ...frame }) }
  /** Answers every request sent so far that has no answer yet with ok (plus `extra` for joins). */
  okAll(extra: Record<string, unknown> = {}): void {
    for (const f of this.sent.splice(0)) if (typeof f.ref === 'string') this.receive({ ref: f.ref, op: 'ok', ...(f.op === 'join' ? extra : {}) })
  }
}
