import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { ChildRegistry } from './child-spawn.js'
import { procUsage, type ProcUsage } from './proc-stat.js'

const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 5_000
/** Attempts with a fresh port when another program took the chosen one first. */
const START_ATTEMPTS = 3
/** Lines of Redis output kept for error messages. */
const MAX_LINES = 20

/** What the bench says when a scenario needs Redis and `findRedisServer(explicit)` found none. */
export function redisMissing(explicit?: string): string {
  return 'the aedes+redis reference needs a Redis server: ' +
    (explicit !== undefined ? `--redis-server ${explicit} is not an executable file` : 'redis-server was not found on PATH (nor in /usr/sbin, /usr/local/bin)') +
    '. Debian/Ubuntu: apt-get install redis-server (the bench starts and stops its own server on a free loopback port). ' +
    'Leave out the ring scenarios with --only (e.g. --only qos0,qos1,fanout,latency,idle).'
}

/** The redis-server binary: `explicit` if given and executable, else the first one on PATH (and /usr/sbin). */
export function findRedisServer(explicit?: string): string | undefined {
  const candidates = explicit !== undefined
    ? [explicit]
    : [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/usr/local/bin'].map((d) => join(d, 'redis-server'))
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** A loopback port nobody listens on right now (Redis cannot take port 0 and report what it got). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * A Redis server of the bench's own, for the aedes+redis reference: loopback only, no
 * persistence (`--save ''`, `--appendonly no`), a temporary working directory, killed with the
 * bench whatever way it ends.
 */
export class RedisServer {
  private constructor(readonly port: number, private readonly child: ChildProcess, private readonly exited: Promise<void>, private readonly cleanup: () => void, private readonly lines: readonly string[]) {}

  static async start(binary: string, registry: ChildRegistry): Promise<RedisServer> {
    let lastError: unknown
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      try {
        return await RedisServer.#startOn(await freeLoopbackPort(), binary, registry)
      } catch (err) {
        lastError = err
      }
    }
    throw lastError
  }

  static async #startOn(port: number, binary: string, registry: ChildRegistry): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-bench-redis-'))
    const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        // Kept, not printed: Redis starts with a banner and a memory-overcommit warning that say
        // nothing about the run; the last lines go into the error when it fails.
        for (const line of chunk.split('\n')) if (line.trim() !== '') { lines.push(line); if (lines.length > MAX_LINES) lines.shift() }
      })
    }
    let gone = false
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => { gone = true; resolve() })
      child.once('error', (err) => { gone = true; lines.push(err.message); resolve() })
    })
    const cleanup = (): void => {
      if (!gone) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
    const unregister = registry.addCleanup(cleanup)
    const server = new RedisServer(port, child, exited, () => { unregister(); cleanup() }, lines)
    const deadline = Date.now() + START_TIMEOUT_MS
    while (!(await ping(port))) {
      if (gone || Date.now() > deadline) {
        server.cleanup()
        throw new Error(`redis-server on port ${port} did not answer PING${gone ? ' (it exited)' : ` within ${START_TIMEOUT_MS} ms`}: ${lines.slice(-3).join(' | ')}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return server
  }

  get pid(): number { return this.child.pid as number }

  get alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  usage(): ProcUsage { return procUsage(this.pid) }

  /** SIGTERM (Redis exits at once without persistence), SIGKILL if it lingers. */
  async stop(): Promise<string | undefined> {
    const problem = this.alive ? undefined : `redis-server had already exited (code ${this.child.exitCode}, signal ${this.child.signalCode}): ${this.lines.slice(-3).join(' | ')}`
    if (this.alive) this.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS) })])
    clearTimeout(timer)
    this.cleanup()
    await this.exited
    return problem ?? (late ? `redis-server did not exit within ${STOP_TIMEOUT_MS} ms and was killed` : undefined)
  }
}

/** True when a Redis server answers PING on the loopback port. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1')
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'))
    socket.once('data', (data) => done(data.toString('latin1').startsWith('+PONG')))
  })
}
