import type { Clock } from '../base/clock.js'

/** What a command needs from the broker (through the ring, so the device may sit on any hub). */
export interface CommandTransport {
  /** Subscribes to `topic`; resolves once the ring knows (SUBACK-equivalent), with an unsubscribe. */
  subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<() => Promise<void>>
  /** Publishes at QoS 1; resolves once the key's owner acknowledged it. */
  publish(topic: string, payload: Buffer): Promise<void>
  /** The retained payload of `topic`, if any (from the key's owner). */
  retained(topic: string): Promise<Buffer | undefined>
}

export interface CommandRequest {
  device: string
  name: string
  args: unknown
  timeoutMs: number
  /** Correlation id, unique among this hub's pending commands. */
  id: string
}

export type CommandOutcome =
  | { status: 200, body: { id: string, device: string, name: string, ok: true, value: unknown } }
  | { status: 409 | 502 | 504, body: { id: string, device: string, name: string, ok: false, error: { code: string, message: string } } }

/** Longest a caller may wait for a device's answer, ms (the agent's own limit). */
export const MAX_COMMAND_TIMEOUT_MS = 60_000
/** Extra wait beyond the device's timeout for the agent's timeout answer to come back, ms. */
const ANSWER_MARGIN_MS = 1_000

/**
 * Request/response to a device by key (UpRing's request, deepstream's RPC) in the agent's
 * convention (docs/agent.md "Commands"): publish `{ id, args, timeoutMs }` on
 * `devices/<id>/cmd/<name>` and wait for the envelope with the same `id` on `.../res`. The ring
 * carries both ways, so this works from any hub. A device whose retained status is `offline`
 * is refused at once (409); no answer within `timeoutMs` + 1 s is a 504.
 */
export async function sendCommand(transport: CommandTransport, clock: Clock, req: CommandRequest): Promise<CommandOutcome> {
  const { device, name, id } = req
  const fail = (status: 409 | 502 | 504, code: string, message: string): CommandOutcome => ({ status, body: { id, device, name, ok: false, error: { code, message } } })
  const status = await transport.retained(`devices/${device}/status`)
  if (status?.toString() === 'offline') return fail(409, 'device-offline', `device ${device} is offline (its status topic says so)`)
  let settle: (outcome: CommandOutcome) => void = () => {}
  const answered = new Promise<CommandOutcome>((resolve) => { settle = resolve })
  const unsubscribe = await transport.subscribe(`devices/${device}/cmd/${name}/res`, (payload) => {
    let envelope: { id?: unknown, ok?: unknown, value?: unknown, error?: { code?: unknown, message?: unknown } }
    try {
      envelope = JSON.parse(payload.toString()) as typeof envelope
    } catch {
      return // not an envelope: someone else's traffic on the topic
    }
    if (envelope?.id !== id) return
    if (envelope.ok === true) settle({ status: 200, body: { id, device, name, ok: true, value: envelope.value } })
    else settle(fail(502, String(envelope.error?.code ?? 'device-error'), String(envelope.error?.message ?? 'the device reported an error')))
  })
  const timer = clock.setTimeout(() => settle(fail(504, 'timeout', `no answer from device ${device} to command ${name} (id ${id}) within ${req.timeoutMs} ms`)), req.timeoutMs + ANSWER_MARGIN_MS)
  try {
    await transport.publish(`devices/${device}/cmd/${name}`, Buffer.from(JSON.stringify({ id, args: req.args ?? null, timeoutMs: req.timeoutMs })))
    return await answered
  } finally {
    clock.clearTimeout(timer)
    await unsubscribe()
  }
}

/** A topic level a device id or command name may be: no separators or wildcards, not empty. */
export function isTopicLevel(s: string): boolean {
  return s.length > 0 && s.length <= 128 && !/[/+#]/.test(s) && !s.includes('\u0000') && !s.startsWith('$')
}
