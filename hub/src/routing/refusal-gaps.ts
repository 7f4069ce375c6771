import type { Clock } from '../base/clock.js'
import type { PublishOrigin } from './ingress.js'

/** Publishes of one key from one ingress run refused here, by their place in the run → until when it counts, ms. */
type Refused = Map<number, number>

/**
 * Publishes this hub refused without keeping a place for them (not its key in its view, too few
 * live hubs, leaving), by key and ingress run (an ingress hub's run: every client of that hub).
 * Until such a publish comes back (its retry arrives here, or its place is kept), the later
 * publishes of its run and key are refused too, so they cannot be numbered ahead of it.
 *
 * Seen at a heal (isolate fault test, 1 run in 10 after the `Place` fix): h2 forwarded 461-464
 * of a key to h3, which had just come back and did not yet see itself the owner, and refused
 * them; 465, sent while they were on their way, reached h3 once it did and was numbered (3,1),
 * and the retries of 461-464 came after it. An ingress sends a key's publishes in order on one
 * connection and retries them in order (`ForwardOrder`), so a refused publish is retried
 * before anything sent after it: refusing those keeps the run's order without holding up other
 * runs (MQTT orders a client's messages, per topic and QoS; the router tracks QoS ≥ 1 only).
 *
 * A refusal ends when its ingress says it has finished the publish (`finishedBefore`: each
 * forward names the first publish of its key its ingress has not finished, so one answered by
 * another hub, or given up, stops counting as soon as the next publish of the run arrives), and
 * at the latest `gapMs` after it (each refusal of the same publish starts it again): a live
 * ingress retries well within it, and an ingress that stopped sending the key would otherwise
 * leave it here for good.
 */
export class RefusalGaps {
  readonly #byKey = new Map<string, Map<string, Refused>>()
  #recorded = 0
  /** When the last refusal recorded stops counting: after it, none does. */
  #lastUntilMs = 0

  constructor(private readonly deps: { clock: Clock, gapMs: number }) {}

  /**
   * Keys with refusals that may still count: 0 on the usual path, which then checks nothing (and
   * once every refusal has ended, even those never asked about again).
   */
  get size(): number {
    if (this.#byKey.size > 0 && this.deps.clock.monotonicMs() >= this.#lastUntilMs) this.#byKey.clear()
    return this.#byKey.size
  }

  /** The publish `origin` of `key` was refused without a kept place. */
  refused(key: string, origin: PublishOrigin): void {
    let runs = this.#byKey.get(key)
    if (!runs) this.#byKey.set(key, runs = new Map())
    let refused = runs.get(origin.source)
    if (!refused) runs.set(origin.source, refused = new Map())
    const untilMs = this.deps.clock.monotonicMs() + this.deps.gapMs
    refused.set(origin.n, untilMs)
    this.#lastUntilMs = Math.max(this.#lastUntilMs, untilMs)
    // Keys refused once and never seen again would stay: swept now and then.
    if (++this.#recorded % 1_024 === 0) this.#sweep()
  }

  /**
   * The publish `origin` of `key` arrives: its own refusal no longer counts (it is back; if refused
   * again, that is recorded anew). Whether an earlier publish of its run was refused here and has
   * not come back since.
   */
  earlierRefused(key: string, origin: PublishOrigin): boolean {
    const refused = this.#byKey.get(key)?.get(origin.source)
    if (!refused) return false
    refused.delete(origin.n)
    const now = this.deps.clock.monotonicMs()
    let earlier = false
    for (const [n, untilMs] of refused) {
      if (untilMs <= now) refused.delete(n)
      else if (n < origin.n) earlier = true
    }
    if (refused.size === 0) this.#forgetRun(key, origin.source)
    return earlier
  }

  /** The publish `origin` of `key` is back another way (its place is kept, or it is answered as a retry): it no longer counts. */
  through(key: string, origin: PublishOrigin): void {
    const refused = this.#byKey.get(key)?.get(origin.source)
    if (!refused?.delete(origin.n)) return
    if (refused.size === 0) this.#forgetRun(key, origin.source)
  }

  /**
   * The ingress run `source` has finished every publish of `key` before `first` (acknowledged,
   * by another owner, or given up; `PublishRequest.first`): none of them will come back, so their
   * refusals no longer count. Returns how many ended.
   */
  finishedBefore(key: string, source: string, first: number): number {
    const refused = this.#byKey.get(key)?.get(source)
    if (!refused) return 0
    let ended = 0
    for (const n of refused.keys()) if (n < first && refused.delete(n)) ended++
    if (refused.size === 0) this.#forgetRun(key, source)
    return ended
  }

  #forgetRun(key: string, source: string): void {
    const runs = this.#byKey.get(key)
    runs?.delete(source)
    if (runs?.size === 0) this.#byKey.delete(key)
  }

  #sweep(): void {
    const now = this.deps.clock.monotonicMs()
    for (const [key, runs] of this.#byKey) {
      for (const [source, refused] of runs) {
        for (const [n, untilMs] of refused) if (untilMs <= now) refused.delete(n)
        if (refused.size === 0) runs.delete(source)
      }
      if (runs.size === 0) this.#byKey.delete(key)
    }
  }
}
