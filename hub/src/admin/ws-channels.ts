import type { Clock, TimerHandle } from '../base/clock.js'
import type { Logger } from '../base/log.js'
import type { AdminServerFrame, DeviceView, TimelineEvent } from '../contract/admin-api.js'
import type { RingView } from '../contract/ring-view.js'
import type { ChannelProvider, SubscribeFrame, Subscriber } from './admin-ws.js'
import { ringDelta } from './ring-delta.js'

/** Ring-wide channels are gathered once a second (the contract's rate for stats and devices). */
export const FEED_PERIOD_MS = 1_000
/** Look-back overlap of the timeline feed, ms: a peer's event may arrive a little after its timestamp. */
const TIMELINE_OVERLAP_MS = 5_000
const TIMELINE_SEEN_MAX = 10_000

/**
 * A channel fed by gathering from the ring once a period, only while someone is subscribed (an
 * idle hub asks its peers nothing). One gathering serves every subscriber; a gathering still
 * running when the next is due makes that one skip.
 */
export class PolledFeed implements ChannelProvider {
  readonly #subs = new Set<Subscriber>()
  #timer: TimerHandle | undefined
  #busy = false

  /** `initial`: the frame a new subscriber gets first (what the others were sent lately), if any. */
  constructor(private readonly deps: { clock: Clock, log: Logger, poll: () => Promise<AdminServerFrame | undefined>, onStart?: () => void, initial?: () => AdminServerFrame | undefined }) {}

  open(sub: Subscriber): { stop: () => void, initial?: AdminServerFrame } {
    this.#subs.add(sub)
    if (!this.#timer) {
      this.deps.onStart?.()
      this.#timer = this.deps.clock.setInterval(() => { void this.#tick() }, FEED_PERIOD_MS)
      this.#timer.unref()
    }
    const stop = (): void => {
      this.#subs.delete(sub)
      if (this.#subs.size === 0) this.stop()
    }
    const initial = this.deps.initial?.()
    return initial ? { stop, initial } : { stop }
  }

  stop(): void {
    this.deps.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  async #tick(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const frame = await this.deps.poll()
      if (frame) for (const sub of this.#subs) sub.send(frame, true)
    } catch (err) {
      this.deps.log.warn({ err }, 'an admin feed could not be gathered')
    } finally {
      this.#busy = false
    }
  }
}

/**
 * `ring`: the view on subscribe, then after every membership change (coalesced per turn) the new
 * view, or for a subscription with `deltas` what changed since the last frame it got.
 */
export class RingFeed implements ChannelProvider {
  /** Each subscriber with the view it was last sent when it takes deltas, else null. */
  readonly #subs = new Map<Subscriber, RingView | null>()
  #pending: TimerHandle | undefined

  constructor(private readonly deps: { clock: Clock, view: () => RingView }) {}

  open(sub: Subscriber, frame?: SubscribeFrame): { stop: () => void, initial: AdminServerFrame } {
    const view = this.deps.view()
    this.#subs.set(sub, frame?.channel === 'ring' && frame.deltas === true ? view : null)
    return { stop: () => { this.#subs.delete(sub) }, initial: { op: 'ring', ring: view } }
  }

  /** A membership change happened: every subscriber gets the new view, or its delta, once. */
  changed(): void {
    if (this.#pending || this.#subs.size === 0) return
    this.#pending = this.deps.clock.setTimeout(() => {
      this.#pending = undefined
      const view = this.deps.view()
      const whole: AdminServerFrame = { op: 'ring', ring: view }
      // Never dropped: a missed ring frame (or delta) would leave the UI showing a stale ring.
      for (const [sub, last] of this.#subs) {
        if (last === null) { sub.send(whole, false); continue }
        const delta = ringDelta(last, view)
        if (delta === undefined) continue
        this.#subs.set(sub, view)
        sub.send({ op: 'ringDelta', delta }, false)
      }
    }, 0)
  }

  stop(): void { this.deps.clock.clearTimeout(this.#pending) }
}

export function devicesFeed(deps: { clock: Clock, log: Logger, changedOfRing: (sinceMs: number) => Promise<DeviceView[]> }): PolledFeed {
  let lastMs = 0
  return new PolledFeed({
    ...deps,
    onStart: () => { lastMs = deps.clock.now() },
    poll: async () => {
      const sinceMs = lastMs
      lastMs = deps.clock.now()
      const devices = await deps.changedOfRing(sinceMs)
      return devices.length > 0 ? { op: 'devices', devices } : undefined
    },
  })
}

export function timelineFeed(deps: { clock: Clock, log: Logger, ofRing: (sinceMs: number) => Promise<TimelineEvent[]> }): PolledFeed {
  let lastMs = 0
  const seen = new Set<string>()
  return new PolledFeed({
    ...deps,
    onStart: () => { lastMs = deps.clock.now() },
    poll: async () => {
      const sinceMs = lastMs - TIMELINE_OVERLAP_MS
      lastMs = deps.clock.now()
      const fresh = (await deps.ofRing(sinceMs)).filter((e) => {
        const id = `${e.seenBy}\u0000${e.tsMs}\u0000${e.type}\u0000${e.member}`
        if (seen.has(id)) return false
        seen.add(id)
        if (seen.size > TIMELINE_SEEN_MAX) seen.delete(seen.values().next().value as string)
        return true
      })
      return fresh.length > 0 ? { op: 'timeline', events: fresh } : undefined
    },
  })
}
