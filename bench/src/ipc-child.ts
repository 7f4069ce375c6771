import type { Envelope, ErrorReply } from './ipc-protocol.js'

/**
 * The child side of the IPC protocol: answers each request from the runner exactly once, turning
 * a thrown error into an `error` reply so the runner reports it instead of timing out.
 * When the runner goes away (crash, Ctrl-C) `onParentGone` runs: a child never outlives the bench.
 */
export function serveRequests<Req, Rep>(handle: (req: Req) => Promise<Rep>, onParentGone: () => void): void {
  if (!process.send) throw new Error('this process must be started by the bench runner (it needs an IPC channel)')
  process.on('message', (message: unknown) => {
    const { id, body } = message as Envelope<Req>
    handle(body).then(
      (reply) => sendToParent<Rep>({ id, body: reply }),
      (err: unknown) => sendToParent<ErrorReply>({ id, body: { type: 'error', message: err instanceof Error ? err.message : String(err) } }),
    )
  })
  process.on('disconnect', onParentGone)
}

export function sendToParent<T>(envelope: Envelope<T>): void {
  // The channel may already be closed while the runner tears down; nothing is left to tell it then.
  if (process.connected) process.send?.(envelope)
}
