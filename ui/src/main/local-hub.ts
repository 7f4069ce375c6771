/**
 * The optional local hub: a full `ringhub hub` in an Electron utility process (Node inside
 * Electron, so better-sqlite3 there must be built for Electron's ABI: packaging stages its own
 * copy, docs/desktop-app.md; the checkout's copy is never rebuilt in place, STYLE §12).
 *
 * The process is started by an injected `fork` (utilityProcess.fork in main.ts). It counts as
 * running once it logs "hub started" (the JSON line every hub prints with its ports); stop is
 * SIGTERM (the hub's graceful stop: wills, quiesce, leave the ring) with a deadline, then a kill.
 */
import { createInterface } from 'node:readline'
import type { LocalHubStatus } from '../../../hub/src/contract/desktop-api.js'
import type { MainLog } from './main-log.js'
import type { DesktopSettings } from './settings-fields.js'

/** The part of Electron's UtilityProcess used here. */
export interface HubProcess {
  readonly pid: number | undefined
  readonly stdout: NodeJS.ReadableStream | null
  /** SIGTERM on POSIX; on Windows the process ends at once. */
  kill(): boolean
  once(event: 'exit', listener: (code: number) => void): unknown
}

/** `modulePath` run with `args` and extra environment (utilityProcess.fork). */
export type ForkHub = (args: string[], env: Record<string, string>) => HubProcess

export interface Timers {
  setTimeout(fn: () => void, delayMs: number): unknown
  clearTimeout(handle: never): void
}

export interface LocalHubDeps {
  fork: ForkHub
  /** Ends a process that ignored the graceful stop (`process.kill(pid, 'SIGKILL')` in main.ts). */
  killHard: (pid: number) => void
  timers: Timers
  log: MainLog
  onStatus: (status: LocalHubStatus) => void
  /** Until "hub started", ms. Default 20000 (a first start creates the database). */
  startTimeoutMs?: number
  /** Graceful stop before the process is killed outright, ms. Default 10000. */
  stopTimeoutMs?: number
}

/**
 * The local hub's command line: its data under the app's userData, joining the observer's seeds,
 * with the ring's label and profile. Gossip keys go in the environment (`RINGHUB_GOSSIP_KEYS`),
 * not the arguments, which any user of the machine can list.
 */
export function localHubCommand(settings: DesktopSettings, dataDir: string): { args: string[], env: Record<string, string> } {
  const args = ['hub', '--id', `${settings.observerId}-hub`, '--data', dataDir, '--profile', settings.profile]
  if (settings.seeds.length > 0) args.push('--join', settings.seeds.join(','))
  if (settings.clusterLabel !== '') args.push('--cluster-label', settings.clusterLabel)
  const env: Record<string, string> = settings.gossipKeys.length > 0 ? { RINGHUB_GOSSIP_KEYS: settings.gossipKeys.join(',') } : {}
  return { args, env }
}

const STOPPED: LocalHubStatus = { state: 'stopped', pid: null, adminUrl: null, error: null }

export class LocalHub {
  #status: LocalHubStatus = STOPPED
  #child: HubProcess | undefined
  #exited: Promise<number> | undefined

  constructor(private readonly deps: LocalHubDeps) {}

  get status(): LocalHubStatus { return this.#status }

  /** Starts the hub unless one runs; resolves once it is running, failed or timed out. */
  async start(command: { args: string[], env: Record<string, string> }): Promise<LocalHubStatus> {
    if (this.#child) return this.#status
    let child: HubProcess
    try {
      child = this.deps.fork(command.args, command.env)
    } catch (err) {
      return this.#set({ ...STOPPED, state: 'failed', error: `cannot start: ${(err as Error).message}` })
    }
    this.#child = child
    this.#set({ state: 'starting', pid: child.pid ?? null, adminUrl: null, error: null })
    const exited = new Promise<number>((resolve) => { child.once('exit', resolve) })
    this.#exited = exited
    void exited.then((code) => {
      if (this.#child !== child) return
      this.#child = undefined
      const expected = this.#status.state === 'stopping'
      if (!expected) this.deps.log.error({ code }, 'local hub exited')
      this.#set(expected ? STOPPED : { ...STOPPED, state: 'failed', error: `exited with code ${code}` })
    })
    const started = new Promise<string | null>((resolve) => {
      if (!child.stdout) return resolve(null)
      // Read to the end: a pipe nobody drains would block the hub on its next log line.
      const lines = createInterface({ input: child.stdout })
      lines.on('line', (line) => {
        const admin = startedAdminPort(line)
        if (admin !== undefined) resolve(`http://127.0.0.1:${admin}/`)
      })
      lines.on('close', () => resolve(null))
    })
    let timer: unknown
    const timedOut = new Promise<'timeout'>((resolve) => { timer = this.deps.timers.setTimeout(() => resolve('timeout'), this.deps.startTimeoutMs ?? 20_000) })
    const outcome = await Promise.race([started, timedOut, exited.then(() => 'exited' as const)])
    this.deps.timers.clearTimeout(timer as never)
    if (this.#child !== child) return this.#status
    if (outcome === 'timeout' || outcome === null) {
      this.deps.log.error({ pid: child.pid }, 'local hub did not report "hub started"; stopping it')
      await this.stop()
      return this.#set({ ...STOPPED, state: 'failed', error: 'did not start in time (see the log)' })
    }
    if (outcome === 'exited') return this.#status
    return this.#set({ state: 'running', pid: child.pid ?? null, adminUrl: outcome, error: null })
  }

  /** Graceful stop, then a kill after `stopTimeoutMs`; resolves once the process has exited. */
  async stop(): Promise<LocalHubStatus> {
    const child = this.#child
    const exited = this.#exited
    if (!child || !exited) return this.#status
    this.#set({ ...this.#status, state: 'stopping' })
    child.kill()
    let timer: unknown
    const late = new Promise<'late'>((resolve) => { timer = this.deps.timers.setTimeout(() => resolve('late'), this.deps.stopTimeoutMs ?? 10_000) })
    if (await Promise.race([exited, late]) === 'late') {
      this.deps.log.warn({ pid: child.pid }, 'local hub did not stop in time; killing it')
      if (child.pid !== undefined) {
        try { this.deps.killHard(child.pid) } catch { /* already gone */ }
      }
      await exited
    }
    this.deps.timers.clearTimeout(timer as never)
    return this.#status
  }

  #set(status: LocalHubStatus): LocalHubStatus {
    this.#status = status
    this.deps.onStatus(status)
    return status
  }
}

/** The admin port from a hub's "hub started" log line, if `line` is one. */
export function startedAdminPort(line: string): number | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: unknown, ports?: { admin?: unknown } }
    if (entry.msg === 'hub started' && typeof entry.ports?.admin === 'number') return entry.ports.admin
  } catch { /* not a JSON log line */ }
  return undefined
}
