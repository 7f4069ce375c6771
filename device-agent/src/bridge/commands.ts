import type { Clock, TimerHandle } from '../base/clock.js'
import type { Counters } from '../base/counters.js'
import { CommandError } from '../base/errors.js'
import { ID_PATTERN, NAME_PATTERN, encodeCommand, type ResponseFrame } from '../protocol/frames.js'

export interface CommandTableOptions {
  device: string
  /** Longest command line the device accepts, in bytes (the port's max frame length). */
  maxFrameBytes: number
  /** Default time a device has to answer, in ms (default 5000); a command may ask for less or more. */
  defaultTimeoutMs: number
  /** Upper bound of a command's `timeoutMs`, in ms (60 000). */
  maxTimeoutMs?: number
  /** Commands waiting for an answer at once (default 32); more are refused with `busy`. */
  maxPending?: number
  clock: Clock
  counters: Counters
  /** Writes a line to the device; false when the port is not open. */
  write: (line: Buffer) => boolean
  /** Publishes the result of command `name` to its `/res` topic. */
  respond: (name: string, body: CommandResult) => void
}

/** What goes into the response payload (besides device, seq and ts). */
export type CommandResult = (
  | { id: string, ok: true, value: unknown }
  | { id: string | null, ok: false, error: { code: CommandError['code'], message: string } }
) & { /** The firmware's frame counter of its response, when it sent one. */ fseq?: number }

interface Pending {
  name: string
  timer: TimerHandle
}

/**
 * MQTT commands → serial lines → responses, matched by correlation id (docs/agent.md "Commands").
 * A command that cannot be delivered, or that the device does not answer in time, still gets a
 * response: `ok: false` with an error code, so the caller never waits in vain.
 */
export class CommandTable {
  readonly #o: CommandTableOptions
  readonly #pending = new Map<string, Pending>()

  constructor(opts: CommandTableOptions) {
    this.#o = opts
  }

  get pending(): number { return this.#pending.size }

  /** A message on `devices/<id>/cmd/<name>`. */
  handle(name: string, payload: Buffer): void {
    const { counters } = this.#o
    counters.add('commands')
    let id: string | null = null
    try {
      if (!NAME_PATTERN.test(name)) throw new CommandError('bad-command', `command name ${JSON.stringify(name)} must match [A-Za-z0-9_.-]{1,64}`)
      const body = parseBody(payload, (known) => { id = known })
      if (this.#pending.has(body.id)) {
        counters.add('commands_duplicate')
        return // a QoS 1 redelivery of a command already on its way
      }
      const maxPending = this.#o.maxPending ?? 32
      if (this.#pending.size >= maxPending) throw new CommandError('busy', `device ${this.#o.device} already has ${maxPending} commands waiting for an answer`)
      const line = encodeCommand({ type: 'command', device: this.#o.device, id: body.id, name, payload: body.args })
      if (line.length - 1 > this.#o.maxFrameBytes) throw new CommandError('too-large', `command is ${line.length - 1} bytes; the line takes at most ${this.#o.maxFrameBytes}`)
      if (!this.#o.write(line)) throw new CommandError('device-offline', `device ${this.#o.device} is offline (serial port closed)`)
      const timeoutMs = Math.min(body.timeoutMs ?? this.#o.defaultTimeoutMs, this.#o.maxTimeoutMs ?? 60_000)
      const commandId = body.id
      const timer = this.#o.clock.setTimeout(() => {
        this.#pending.delete(commandId)
        counters.add('commands_timeout')
        this.#o.respond(name, { id: commandId, ok: false, error: { code: 'timeout', message: `device ${this.#o.device} did not answer command "${name}" (id ${commandId}) within ${timeoutMs} ms` } })
      }, timeoutMs)
      this.#pending.set(body.id, { name, timer })
    } catch (err) {
      if (!(err instanceof CommandError)) throw err
      counters.add(`commands_failed.${err.code}`)
      this.#o.respond(name, { id, ok: false, error: { code: err.code, message: err.message } })
    }
  }

  /** A `response` frame from the device. */
  answer(frame: ResponseFrame): void {
    const pending = this.#pending.get(frame.id)
    if (!pending) {
      this.#o.counters.add('responses_unmatched') // late (after its timeout) or never asked
      return
    }
    this.#o.clock.clearTimeout(pending.timer)
    this.#pending.delete(frame.id)
    this.#o.counters.add('responses')
    const fseq = frame.seq !== undefined ? { fseq: frame.seq } : {}
    this.#o.respond(pending.name, frame.ok
      ? { id: frame.id, ok: true, value: frame.payload, ...fseq }
      : { id: frame.id, ok: false, error: { code: 'device-error', message: frame.error ?? 'the device reported an error' }, ...fseq })
  }

  /** The port closed: commands in flight will not be answered. */
  failAll(reason: string): void {
    for (const [id, p] of this.#pending) {
      this.#o.clock.clearTimeout(p.timer)
      this.#o.respond(p.name, { id, ok: false, error: { code: 'device-offline', message: `device ${this.#o.device} went offline before answering (${reason})` } })
    }
    this.#pending.clear()
  }
}

/** Validates a command payload; `onId` learns the correlation id as soon as it is known, for the error response. */
function parseBody(payload: Buffer, onId: (id: string) => void): { id: string, args: unknown, timeoutMs?: number } {
  let raw: unknown
  try {
    raw = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new CommandError('bad-command', 'command payload must be a JSON object {"id": "...", "args": ...}')
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CommandError('bad-command', 'command payload must be a JSON object')
  const body = raw as Record<string, unknown>
  if (typeof body.id !== 'string' || !ID_PATTERN.test(body.id)) throw new CommandError('bad-command', 'command "id" must be 1-64 printable characters without quotes')
  onId(body.id)
  if (body.timeoutMs !== undefined && !(Number.isSafeInteger(body.timeoutMs) && (body.timeoutMs as number) > 0)) throw new CommandError('bad-command', '"timeoutMs" must be a positive integer')
  return { id: body.id, args: body.args ?? null, ...(body.timeoutMs !== undefined ? { timeoutMs: body.timeoutMs as number } : {}) }
}
