import type { Clock } from '../base/clock.js'

export interface FlapGuardOptions {
  /** Connects one client id may make within `windowMs`; the next one is banned. 0 = off. */
  maxConnects: number
  windowMs: number
  /** How long a flapping client id stays banned. */
  banMs: number
  /** Client ids tracked at most; the oldest entries are forgotten first (a flood of fresh ids costs bounded memory). */
  maxTracked?: number
  clock: Pick<Clock, 'monotonicMs'>
}

interface Entry {
  windowStartMs: number
  connects: number
  bannedUntilMs: number
}

const DEFAULT_MAX_TRACKED = 50_000

/**
 * Bans a client id that keeps connecting (EMQX's flapping detection): more than `maxConnects`
 * CONNECTs within `windowMs` bans it for `banMs`, during which its CONNECTs are refused. A device
 * stuck in a reconnect loop (a crash at start, two devices sharing one id that keep taking each
 * other's session over) otherwise costs the hub a login, a session takeover and a handoff every
 * time. Counted per hub: a banned device that fails over to another hub starts from zero there.
 * Fixed windows per id (two numbers each), in monotonic time, so a clock jump changes nothing.
 */
export class FlapGuard {
  readonly #entries = new Map<string, Entry>()
  readonly #maxTracked: number

  constructor(private readonly opts: FlapGuardOptions) {
    this.#maxTracked = opts.maxTracked ?? DEFAULT_MAX_TRACKED
  }

  get enabled(): boolean { return this.opts.maxConnects > 0 }

  /**
   * A CONNECT of `clientId` arrived: undefined to let it in, or the ms its ban has left. The
   * connect that goes over the limit starts the ban (`banned` is then true).
   */
  connecting(clientId: string): { remainingMs: number, banned: boolean } | undefined {
    if (!this.enabled || clientId === '') return undefined
    const now = this.opts.clock.monotonicMs()
    let entry = this.#entries.get(clientId)
    if (entry !== undefined && entry.bannedUntilMs > now) return { remainingMs: entry.bannedUntilMs - now, banned: false }
    if (entry === undefined || now - entry.windowStartMs >= this.opts.windowMs) {
      entry = { windowStartMs: now, connects: 0, bannedUntilMs: 0 }
    }
    // Re-inserted on every connect: Map order is then the eviction order (least recently seen first).
    this.#entries.delete(clientId)
    this.#entries.set(clientId, entry)
    if (this.#entries.size > this.#maxTracked) this.#entries.delete(this.#entries.keys().next().value as string)
    entry.connects++
    if (entry.connects <= this.opts.maxConnects) return undefined
    entry.bannedUntilMs = now + this.opts.banMs
    entry.windowStartMs = entry.bannedUntilMs
    entry.connects = 0
    return { remainingMs: this.opts.banMs, banned: true }
  }

  /** Client ids banned right now. */
  bannedCount(): number {
    const now = this.opts.clock.monotonicMs()
    let n = 0
    for (const e of this.#entries.values()) if (e.bannedUntilMs > now) n++
    return n
  }

  get trackedCount(): number { return this.#entries.size }
}
