import type { Clock } from '../base/clock.js'
import type { PublishOrigin } from './ingress.js'

/** Publishes of one key from one ingress run refused here, by their place in the run → until when it counts, ms. */
type Refused = Map<number, number>

/**
 * Publishes this hub refused without keeping a place for them (not its key in its view, too few
 * live hubs, leaving), by key and ingress run. Until such a publish comes back (its retry), the
 * later publishes of its run are refused too, so they cannot be numbered ahead of it.
 *
 * Seen at a heal (isolate fault test, 1 run in 10 after the `Place` fix): h2 forwarded 461-464
 * of a key to h3, which had just come back and did not yet see itself the owner, and refused
 * them; 465, sent while they were on their way, reached h3 once it did and was numbered (3,1),
 * and the retries of 461-464 came after it. An ingress sends a key's publishes in order on one
 * connection and retries them in order (`ForwardOrder`), so a refused run member is retried
 * before anything sent after it would be: refusing those keeps the run's order without holding
 * up other runs (MQTT orders a client's messages only).
 *
 * A refusal counts for `gapMs` after it (renewed by each refusal of it), like a kept place: a
 * live ingress retries well within it, and one that gave up or was answered elsewhere would
 * otherwise hold the run's later publishes back for good.
 */
export class RefusalGaps {
  readonly #byKey = new Map<string, Map<string, Refused>>()
  #recorded = 0

  constructor(private readonly deps: { clock: Clock, gapMs: number }) {}

  /** Keys with refusals that may still count: 0 on the usual path, which then checks nothing. */
  get size(): number { return this.#byKey.size }

  /** The publish `origin` of `key` was refused without a kept place. */
  refused(key: string, origin: PublishOrigin): void {
    let runs = this.#byKey.get(key)
    if (!runs) this.#byKey.set(key, runs = new Map())
    let refused = runs.get(origin.source)
    if (!refused) runs.set(origin.source, refused = new Map())
    refused.set(origin.n, this.deps.clock.monotonicMs() + this.deps.gapMs)
    // Keys refused once and never seen again would stay: swept now and then.
    if (++this.#recorded % 1_024 === 0) this.#sweep()
  }

  /** Whether an earlier publish of `origin`'s run was refused here and has not come back since. */
  before(key: string, origin: PublishOrigin): boolean {
    const refused = this.#byKey.get(key)?.get(origin.source)
    if (!refused) return false
    const now = this.deps.clock.monotonicMs()
    let earlier = false
    for (const [n, untilMs] of refused) {
      if (untilMs <= now) refused.delete(n)
      else if (n < origin.n) earlier = true
    }
    if (refused.size === 0) this.#forgetRun(key, origin.source)
    return earlier
  }

  /** The publish `origin` of `key` came back and was numbered (or its place is kept): it no longer counts. */
  through(key: string, origin: PublishOrigin): void {
    const refused = this.#byKey.get(key)?.get(origin.source)
    if (!refused?.delete(origin.n)) return
    if (refused.size === 0) this.#forgetRun(key, origin.source)
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
