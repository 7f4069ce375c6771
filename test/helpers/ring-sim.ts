import type { Clock, TimerHandle } from '../../hub/src/base/clock.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { seededRng, type Rng } from '../../hub/src/base/rng.js'
import { MemoryNetwork, type LinkRules } from '../../hub/src/transport/memory-network.js'
import { SwimNode } from '../../hub/src/membership/swim-node.js'
import type { GossipProfile } from '../../hub/src/membership/profiles.js'
import type { MemberState } from '../../hub/src/membership/member.js'

/**
 * A clock for one simulated process: timers that fall due while the process is paused (SIGSTOP)
 * run when it resumes, late, as they would in a stopped process.
 */
class ProcessClock implements Clock {
  #paused = false
  #late: Array<() => void> = []
  constructor(private readonly world: ManualClock) {}
  now(): number { return this.world.now() }
  monotonicMs(): number { return this.world.monotonicMs() }
  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.world.setTimeout(() => (this.#paused ? this.#late.push(fn) : fn()), delayMs)
  }
  clearTimeout(handle: TimerHandle | undefined): void { this.world.clearTimeout(handle) }
  setInterval(fn: () => void, periodMs: number): TimerHandle {
    return this.world.setInterval(() => (this.#paused ? this.#late.push(fn) : fn()), periodMs)
  }
  clearInterval(handle: TimerHandle | undefined): void { this.world.clearInterval(handle) }
  pause(): void { this.#paused = true }
  resume(): void {
    this.#paused = false
    const late = this.#late
    this.#late = []
    for (const fn of late) fn()
  }
}

interface SimHub {
  node: SwimNode
  clock: ProcessClock
  address: string
}

export interface Transition { atMs: number, observer: string, member: string, state: MemberState }

/**
 * A ring of SwimNodes on one virtual clock and an in-memory network: seeded, so a scenario
 * replays exactly. Time moves only in `run`.
 */
export class RingSim {
  readonly clock = new ManualClock(0)
  readonly net: MemoryNetwork
  readonly hubs = new Map<string, SimHub>()
  /** Every state change any hub saw about any other, in order. */
  readonly transitions: Transition[] = []
  readonly #rng: Rng

  constructor(readonly opts: { seed: number, profile: GossipProfile, links?: Partial<LinkRules> }) {
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
      log: silentLogger(),
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

  /** Advances virtual time by `ms` in `stepMs` steps, letting promise callbacks run in between. */
  async run(ms: number, stepMs = 10): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.advance(Math.min(stepMs, ms - t))
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** Runs until `done()` or `limitMs` of virtual time; returns the virtual time it took. */
  async runUntil(done: () => boolean, limitMs: number, stepMs = 10): Promise<number> {
    const start = this.clock.now()
    while (!done()) {
      if (this.clock.now() - start >= limitMs) throw new Error(`not done after ${limitMs} ms of virtual time (seed ${this.opts.seed})`)
      await this.run(stepMs, stepMs)
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
