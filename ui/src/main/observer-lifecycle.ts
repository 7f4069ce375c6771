/**
 * The embedded observer member over the app's life: started when seeds are configured, restarted
 * when a setting it depends on changes (or on "reconnect"), stopped with a graceful leave on
 * quit. The observer itself (hub/src/observer/observer-node.ts) is injected as `start`.
 *
 * Changes are applied one at a time, in order: a settings save during a slow start waits for it,
 * then restarts, so two observers with one id never run at once.
 */
import type { ObserverStatus } from '../../../hub/src/contract/desktop-api.js'
import type { RingView } from '../../../hub/src/contract/ring-view.js'
import type { MainLog } from './main-log.js'
import type { DesktopSettings } from './settings-fields.js'

/** What the observer needs from the settings; null when none should run. */
export interface ObserverConfig {
  id: string
  seeds: string[]
  gossipKeys: string[]
  clusterLabel: string
  profile: 'lan' | 'edge'
}

export function observerConfigOf(settings: DesktopSettings): ObserverConfig | null {
  if (settings.seeds.length === 0) return null
  return { id: settings.observerId, seeds: [...settings.seeds], gossipKeys: [...settings.gossipKeys], clusterLabel: settings.clusterLabel, profile: settings.profile }
}

/**
 * Where the observer's gossip socket binds: loopback when every seed is on this machine (the
 * `npm start` demo, whose hubs bind 127.0.0.1 and would otherwise be handed a LAN address to
 * probe), else every interface, advertising the first non-internal IPv4 address as hubs do.
 */
export function observerBindHost(seeds: readonly string[]): '127.0.0.1' | '0.0.0.0' {
  const loopback = (seed: string): boolean => {
    const host = seed.slice(0, seed.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1').toLowerCase()
    return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  }
  return seeds.length > 0 && seeds.every(loopback) ? '127.0.0.1' : '0.0.0.0'
}

/** The part of `ObserverNode` the lifecycle uses. */
export interface ObserverHandle {
  readonly address: string
  readonly incarnation: number
  view(): RingView
  on(event: 'changed', listener: (view: RingView) => void): unknown
  off(event: 'changed', listener: (view: RingView) => void): unknown
  stop(leaveTimeoutMs?: number): Promise<void>
}

/** Starts an observer; `incarnation` is the previous run's, to start above it. */
export type StartObserver = (config: ObserverConfig, incarnation: number | undefined) => Promise<ObserverHandle>

export interface ObserverLifecycleDeps {
  start: StartObserver
  log: MainLog
  /** Called with every status change, ring views included. */
  onStatus: (status: ObserverStatus) => void
  /** How long a graceful leave may take before the sockets close anyway, ms. Default 1000. */
  leaveTimeoutMs?: number
}

const OFF: ObserverStatus = { state: 'off', address: null, error: null, ring: null }

export class ObserverLifecycle {
  #status: ObserverStatus = OFF
  #running: { handle: ObserverHandle, config: ObserverConfig, listener: (view: RingView) => void } | undefined
  #lastIncarnation: number | undefined
  #queue: Promise<void> = Promise.resolve()
  #closed = false

  constructor(private readonly deps: ObserverLifecycleDeps) {}

  get status(): ObserverStatus { return this.#status }

  /**
   * Makes the observer match `config`: starts, restarts or stops it. A config equal to the
   * running one changes nothing unless `force` (reconnect). Never rejects: a failure becomes
   * the `failed` status.
   */
  apply(config: ObserverConfig | null, options: { force?: boolean } = {}): Promise<void> {
    return this.#enqueue(() => (this.#closed ? Promise.resolve() : this.#apply(config, options.force ?? false)))
  }

  /** Graceful leave for quit; later `apply` calls do nothing. */
  close(): Promise<void> {
    this.#closed = true
    return this.#enqueue(() => this.#apply(null, false))
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(step, step)
    return this.#queue
  }

  async #apply(config: ObserverConfig | null, force: boolean): Promise<void> {
    const running = this.#running
    if (running && config && !force && sameConfig(running.config, config)) return
    if (!running && !config && this.#status.state === 'off') return
    if (running) {
      this.#running = undefined
      running.handle.off('changed', running.listener)
      this.#lastIncarnation = running.handle.incarnation
      try {
        await running.handle.stop(this.deps.leaveTimeoutMs ?? 1_000)
      } catch (err) {
        this.deps.log.warn({ err }, 'observer did not stop cleanly')
      }
    }
    if (!config) return this.#set(OFF)
    this.#set({ state: 'starting', address: null, error: null, ring: null })
    let handle: ObserverHandle
    try {
      handle = await this.deps.start(config, this.#lastIncarnation)
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      this.deps.log.error({ err, seeds: config.seeds }, 'observer did not start')
      return this.#set({ state: 'failed', address: null, error: message, ring: null })
    }
    const listener = (view: RingView): void => { this.#set({ ...this.#status, ring: view }) }
    handle.on('changed', listener)
    this.#running = { handle, config, listener }
    this.deps.log.info({ id: config.id, address: handle.address, seeds: config.seeds }, 'observer started')
    this.#set({ state: 'running', address: handle.address, error: null, ring: handle.view() })
  }

  #set(status: ObserverStatus): void {
    this.#status = status
    this.deps.onStatus(status)
  }
}

function sameConfig(a: ObserverConfig, b: ObserverConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
