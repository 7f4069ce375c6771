import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Clock } from '../base/clock.js'
import { RinghubError } from '../base/errors.js'

/** The launcher every child runs (`node bin/ringhub.js hub|sim …`), as `npm start` itself does. */
export const RINGHUB_BIN = fileURLToPath(new URL('../../../bin/ringhub.js', import.meta.url))
const WATCHDOG = new URL('./demo-watchdog.js', import.meta.url).href

export interface ChildExit { code: number | null, signal: NodeJS.Signals | null }

/** A child of the demo that failed to start, or ended when it should not have. */
export class DemoChildError extends RinghubError {}

/**
 * One process of the demo (a hub or the fleet): `node --import demo-watchdog.js bin/ringhub.js
 * <args>` in its own process group, with stdout and stderr appended to a log file. A file rather
 * than a pipe: a child outlives nothing by writing to it (a pipe whose reader died fails the
 * child's next log line with EPIPE, mid graceful stop), and the user can `tail -f` it.
 */
export class DemoChild {
  readonly pid: number
  readonly exited: Promise<ChildExit>
  #exit: ChildExit | undefined

  private constructor(readonly name: string, readonly args: readonly string[], readonly logPath: string, readonly child: ChildProcess) {
    this.pid = child.pid as number
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.#exit = { code, signal }
      resolve(this.#exit)
    }))
  }

  /** Starts `node bin/ringhub.js ...args`; its output replaces `logPath`'s contents. */
  static start(name: string, args: readonly string[], logPath: string): DemoChild {
    mkdirSync(dirname(logPath), { recursive: true })
    const fd = openSync(logPath, 'w')
    try {
      const child = spawn(process.execPath, ['--import', WATCHDOG, RINGHUB_BIN, ...args], {
        // 'ipc' is the watchdog's lifeline (see demo-watchdog.ts); nothing is sent on it.
        stdio: ['ignore', fd, fd, 'ipc'],
        // Own process group: the terminal's Ctrl-C reaches the demo only, which stops children in order.
        detached: true,
      })
      if (child.pid === undefined) throw new DemoChildError(`${name}: could not start ${process.execPath}`)
      return new DemoChild(name, args, logPath, child)
    } finally {
      closeSync(fd)
    }
  }

  get running(): boolean { return this.#exit === undefined }

  /** The log file's lines so far. */
  lines(): string[] {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').filter((l) => l !== '')
    } catch {
      return []
    }
  }

  /** The last `count` lines of the log, indented, for error messages. */
  tail(count = 15): string {
    return this.lines().slice(-count).map((l) => `    ${l}`).join('\n') || '    (empty)'
  }

  describeExit(exit: ChildExit): string {
    return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return
    try { this.child.kill(signal) } catch { /* already gone */ }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `deadlineMs`. Resolves once it exited. */
  async stop(clock: Clock, deadlineMs: number): Promise<ChildExit & { killed: boolean }> {
    if (!this.running) return { ...(this.#exit as ChildExit), killed: false }
    this.signal('SIGTERM')
    let killed = false
    const timer = clock.setTimeout(() => { killed = true; this.signal('SIGKILL') }, deadlineMs)
    const exit = await this.exited
    clock.clearTimeout(timer)
    return { ...exit, killed }
  }

  /**
   * Polls the log until `find` returns a value for one of its lines. Rejects when the child
   * exits first (with its log's tail) or after `deadlineMs`.
   */
  async waitForLine<T>(clock: Clock, find: (line: string) => T | undefined, what: string, deadlineMs: number): Promise<T> {
    const end = clock.monotonicMs() + deadlineMs
    for (;;) {
      for (const line of this.lines()) {
        const found = find(line)
        if (found !== undefined) return found
      }
      if (!this.running) throw new DemoChildError(`${this.name} exited (${this.describeExit(this.#exit as ChildExit)}) before ${what}; the end of ${this.logPath}:\n${this.tail()}`)
      if (clock.monotonicMs() > end) throw new DemoChildError(`${this.name}: no ${what} within ${deadlineMs} ms; the end of ${this.logPath}:\n${this.tail()}`)
      await sleep(clock, 50)
    }
  }
}

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}
