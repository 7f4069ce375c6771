import type { Clock } from '../base/clock.js'
import type { IncarnationState } from '../membership/cluster.js'

/**
 * An observer's incarnation, kept in memory: it has no database, yet a restarted observer with
 * the same id must announce itself above the incarnation the ring remembers it `left` or `dead`
 * at, or its alive message loses to that entry (SWIM §4.2) until it learns and refutes.
 *
 * It starts at the wall clock in seconds, as ringpop's incarnation numbers do: any later run
 * starts higher, as long as the clock does not step back by more than the time between runs.
 * `floor` (a previous run's last incarnation) covers a quick restart in the same process, where
 * refutations may have raised it above the clock. Seconds keep it far below 2^53 (`readUint`).
 */
export class MemoryIncarnation implements IncarnationState {
  #value: number

  constructor(clock: Clock, floor = 0) {
    this.#value = Math.max(floor, Math.floor(clock.now() / 1_000))
  }

  get(_name: string): number | undefined { return this.#value }

  set(_name: string, value: number): Promise<void> {
    this.#value = value
    return Promise.resolve()
  }
}
