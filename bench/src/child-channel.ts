import type { ChildProcess } from 'node:child_process'
import type { Envelope } from './ipc-protocol.js'

type Typed = { type: string }
type ReplyOf<Rep extends Typed, T extends Rep['type']> = Extract<Rep, { type: T }>

interface Pending {
  resolve: (body: Typed) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class ChildFailedError extends Error {
  override readonly name = 'ChildFailedError'
}

/**
 * The runner's side of one child process: typed request/reply with a deadline on every call, so
 * a hung or crashed child turns into an error within bounded time instead of a hung bench.
 */
export class ChildChannel<Req extends Typed, Rep extends Typed> {
  #nextId = 1
  readonly #pending = new Map<number, Pending>()
  readonly #unsolicited: Typed[] = []
  readonly #listeners: Array<() => void> = []
  #exit: string | undefined
  readonly exited: Promise<void>

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.on('message', (message: unknown) => {
      const { id, body } = message as Envelope<Typed>
      if (id === 0) {
        this.#unsolicited.push(body)
        for (const listener of this.#listeners.splice(0)) listener()
        return
      }
      const pending = this.#pending.get(id)
      if (!pending) return
      this.#pending.delete(id)
      clearTimeout(pending.timer)
      if (body.type === 'error') pending.reject(new ChildFailedError(`${name}: ${(body as { message?: string }).message ?? 'error'}`))
      else pending.resolve(body)
    })
    this.exited = new Promise((resolve) => {
      const onGone = (why: string): void => {
        if (this.#exit !== undefined) return
        this.#exit = why
        for (const [id, pending] of this.#pending) {
          this.#pending.delete(id)
          clearTimeout(pending.timer)
          pending.reject(new ChildFailedError(`${name} ${why}`))
        }
        for (const listener of this.#listeners.splice(0)) listener()
        resolve()
      }
      child.once('exit', (code, signal) => onGone(`exited (code ${code}, signal ${signal})`))
      child.once('error', (err) => onGone(`failed to start: ${err.message}`))
    })
  }

  get alive(): boolean { return this.#exit === undefined }

  request<T extends Rep['type']>(body: Req, expect: T, timeoutMs: number): Promise<ReplyOf<Rep, T>> {
    if (this.#exit !== undefined) return Promise.reject(new ChildFailedError(`${this.name} ${this.#exit}`))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new ChildFailedError(`${this.name}: no reply to ${body.type} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (reply) => {
          if (reply.type === expect) resolve(reply as ReplyOf<Rep, T>)
          else reject(new ChildFailedError(`${this.name}: expected ${expect}, got ${reply.type}`))
        },
        reject,
        timer,
      })
      const envelope: Envelope<Req> = { id, body }
      this.child.send(envelope)
    })
  }

  /** Waits for an unsolicited message (id 0) of the given type, e.g. the broker's `ready`. */
  async next<M extends Typed>(type: M['type'], timeoutMs: number): Promise<M> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const index = this.#unsolicited.findIndex((m) => m.type === type)
      if (index >= 0) return this.#unsolicited.splice(index, 1)[0] as M
      if (this.#exit !== undefined) throw new ChildFailedError(`${this.name} ${this.#exit} before sending ${type}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new ChildFailedError(`${this.name}: no ${type} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#listeners.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /**
   * Asks the child to stop, waits for it to exit, and kills it if either takes too long.
   * Resolves with what went wrong (it had already died, did not acknowledge, had to be killed),
   * or undefined after a clean stop.
   */
  async shutdown(stop: Req, timeoutMs: number): Promise<string | undefined> {
    if (this.#exit !== undefined) return `had already ${this.#exit}`
    let problem: string | undefined
    try {
      await this.request(stop, 'ok' as Rep['type'], timeoutMs)
    } catch (err) {
      problem = `did not acknowledge ${stop.type}: ${(err as Error).message}`
    }
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs) })
    const late = await Promise.race([this.exited.then(() => false), timedOut])
    clearTimeout(timer)
    if (late) {
      this.kill()
      await this.exited
      problem ??= `did not exit within ${timeoutMs} ms and was killed`
    }
    return problem
  }

  /** SIGKILL this child (only this one: by its own handle). */
  kill(): void {
    if (this.#exit === undefined) this.child.kill('SIGKILL')
  }
}
