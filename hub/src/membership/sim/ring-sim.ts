import { silentLogger, type Logger } from '../../base/log.js'
import { seededRng, type Rng } from '../../base/rng.js'
import { MemoryNetwork, type LinkRules } from '../../transport/memory-network.js'
import type { MemberState } from '../member.js'
import type { GossipProfile } from '../profiles.js'
import { SwimNode } from '../swim-node.js'
import { ProcessClock } from './process-clock.js'
import { SimClock } from './sim-clock.js'

export { ProcessClock } from './process-clock.js'
export { SimClock } from './sim-clock.js'

interface SimHub {
  node: SwimNode
  clock: ProcessClock
  address: string
}

export interface Transition { atMs: number, observer: string, member: string, state: MemberState }

export interface RingSimOptions {
  seed: number
  profile: GossipProfile
  /** Default rules of every link (loss, delay, jitter, duplication); none = a perfect network. */
  links?: Partial<LinkRules>
}

/**
 * A ring of SwimNodes on one virtual clock and an in-memory network: seeded, so a scenario
 * replays exactly. Time moves only in `run`. Lives in hub/src (not test/) so the ring benchmark
 * can run it from hub/dist.
 */
export class RingSim {
  readonly clock = new SimClock(0)
  readonly net: MemoryNetwork
  readonly hubs = new Map<string, SimHub>()
  /** Every state change any hub saw about any other, in order. */
  readonly transitions: Transition[] = []
  readonly #rng: Rng
  readonly #log: Logger = silentLogger()

  constructor(readonly opts: RingSimOptions) {
    this.#rng = seededRng(opts.seed)
    this.net = new MemoryNetwork({ clock: this.clock, rng: seededRng(opts.seed ^ 0x9e3779b9), defaults: opts.links })
  }

  add(id: string, incarnation = 0): SwimNode {
    const address = `${id}:7946`
    const clock = new ProcessClock(this.clock)
    const node = new SwimNode({
      self: { id, incarnation, state: 'alive', stateChangeMs: 0, addresses: { gossip: address }, meta: { version: 'sim', role: 'hub' } },
      transport: this.net.transport(address),
      clock,
      rng: seededRng(this.#rng.int(2 ** 31)),
      log: this.#log,
      profile: this.opts.profile,
    })
    const record = (state: MemberState) => (m: { id: string }) => this.transitions.push({ atMs: this.clock.now(), observer: id, member: m.id, state })
    node.on('memberJoined', record('alive')).on('memberSuspected', record('suspect')).on('memberDied', record('dead')).on('memberLeft', record('left'))
    node.on('memberUpdated', (m) => { if (m.state === 'alive') record('alive')(m) })
    this.hubs.set(id, { node, clock, address })
    node.start()
    return node
  }

  node(id: string): SwimNode { return (this.hubs.get(id) as SimHub).node }
  address(id: string): string { return (this.hubs.get(id) as SimHub).address }

  /** The state `observer` holds about `member` (undefined: unknown). */
  view(observer: string, member: string): MemberState | undefined {
    return this.node(observer).table.get(member)?.state
  }

  /**
   * Advances virtual time by `ms`, from one due timer to the next, and after each instant lets
   * promise continuations (push-pull, joins) run before time moves on, so they happen at the
   * virtual time they belong to.
   */
  async run(ms: number): Promise<void> {
    const target = this.clock.now() + ms
    for (;;) {
      const next = this.clock.nextDueMs()
      if (next === undefined || next > target) break
      this.clock.advanceTo(next)
      await settle()
    }
    this.clock.advanceTo(target)
    await settle()
  }

  /**
   * Runs until `done()` (checked every `checkEveryMs` of virtual time) or `limitMs`; returns
   * the virtual time it took.
   */
  async runUntil(done: () => boolean, limitMs: number, checkEveryMs = 10): Promise<number> {
    const start = this.clock.now()
    while (!done()) {
      if (this.clock.now() - start >= limitMs) throw new Error(`not done after ${limitMs} ms of virtual time (seed ${this.opts.seed})`)
      await this.run(checkEveryMs)
    }
    return this.clock.now() - start
  }

  crash(id: string): void {
    this.net.crash(this.address(id))
    this.node(id).stop()
  }

  pause(id: string): void {
    this.net.pause(this.address(id))
    ;(this.hubs.get(id) as SimHub).clock.pause()
  }

  resume(id: string): void {
    ;(this.hubs.get(id) as SimHub).clock.resume()
    this.net.resume(this.address(id))
  }

  ids(): string[] { return [...this.hubs.keys()] }

  /** True when every listed observer holds every listed member in `state`. */
  everyoneSees(members: readonly string[], state: MemberState, observers = this.ids()): boolean {
    return observers.every((o) => members.every((m) => this.view(o, m) === state))
  }
}

/**
 * Lets every pending promise continuation run. The simulator is the one place in hub/src that
 * drives virtual time from the real event loop; a macrotask turn is how it knows the microtask
 * queue is empty. It reads no time and sets no timer that matters to the simulation.
 */
function settle(): Promise<void> {
  // eslint-disable-next-line no-restricted-globals -- a turn of the event loop, not a timer (see above)
  return new Promise((resolve) => setImmediate(resolve))
}
