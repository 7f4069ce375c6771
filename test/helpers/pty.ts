import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from './wait.js'

/**
 * A real serial line for tests: socat joins two pseudo-terminals and links them at `<dir>/<a>`
 * and `<dir>/<b>`. `unplug()` ends socat, so both ends vanish as a USB adapter's port does
 * (open ports see an I/O error); `plug()` makes a new pair under the same or other names.
 */
export class PtyPair {
  #child: ChildProcess | undefined
  a: string
  b: string

  private constructor(readonly dir: string, a: string, b: string) {
    this.a = join(dir, a)
    this.b = join(dir, b)
  }

  static async open(dir: string, a = 'sim', b = 'agent'): Promise<PtyPair> {
    const pair = new PtyPair(dir, a, b)
    await pair.plug()
    return pair
  }

  /** Starts socat (again), optionally with other names for the ends. */
  async plug(a?: string, b?: string): Promise<void> {
    if (a !== undefined) this.a = join(this.dir, a)
    if (b !== undefined) this.b = join(this.dir, b)
    const child = spawn('socat', [`pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], { stdio: 'ignore' })
    this.#child = child
    await waitFor(() => existsSync(this.a) && existsSync(this.b), `socat links ${this.a} and ${this.b}`, 5_000)
  }

  /** Ends socat; both ends and their links disappear. */
  async unplug(): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await exited
    await waitFor(() => !existsSync(this.a) && !existsSync(this.b), 'socat links removed', 5_000)
  }

  close(): Promise<void> { return this.unplug() }
}
