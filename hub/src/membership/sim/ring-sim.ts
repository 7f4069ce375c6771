import { silentLogger, type Logger } from '../../base/log.js'
import { seededRng, type Rng } from '../../base/rng.js'
import { MemoryNetwork, type LinkRules } from '../../transport/memory-network.js'
import type { Member, MemberState } from '../member.js'
import type { GossipProfile } from '../profiles.js'
import { SwimNode } from '../swim-node.js'
import { MeteredTransport } from './metered-transport.js'
import { ProcessClock } from './process-clock.js'
import { ManualClock } from '../../base/manual-clock.js'

export { ProcessClock } from './process-clock.js'

interface SimHub {
  node: SwimNode
  clock: ProcessClock
  address: string
  transport: MeteredTransport
}

/** What one member has sent so far: datagrams (`MemoryNetwork.stats`) and reliable streams. */
export interface Traffic {
  /** Datagrams handed to the network (lost ones included), and their bytes. */
  packetsSent: number
  packetBytesSent: number
  /** Requests started (push-pull, TCP pings), and bytes of requests sent plus answers given. */
  requestsSent: number
  streamBytesSent: number
}

/** A settled member starts from this incarnation and announces the next (`start()`), which
 *  the others already hold: old news, nobody re-broadcasts it. */
const SETTLED_START_INCARNATION = 0

function addressOf(id: string): string { return `${id}:7946` }

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
  readonly clock = new ManualClock(0)
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

  /**
   * Adds and starts a member that knows nobody yet (it joins with `node(id).join(...)`). Adding
   * an id again (after `crash`) is a restart, at `address` if given (a new port or host).
   */
  add(id: string, incarnation = 0, address = addressOf(id)): SwimNode {
    return this.#start(id, incarnation, [], address)
  }

  /**
   * Adds `ids` as a ring that settled long ago: each already holds every other alive at the
   * incarnation it is about to announce, so no join gossip is in flight. Joining N members one by
   * one costs N² gossip messages (each learns N members, re-broadcasts each, and is itself
   * broadcast to N): for N = 1000 minutes of wall time here, this way a fraction of a second.
   * Only into an empty simulator.
   */
  addSettled(ids: readonly string[]): void {
    if (this.hubs.size > 0) throw new Error('addSettled: the simulator already has members')
    const members = ids.map((id) => Object.freeze(this.#member(id, SETTLED_START_INCARNATION + 1)))
    for (const id of ids) this.#start(id, SETTLED_START_INCARNATION, members)
  }

  #member(id: string, incarnation: number, address = addressOf(id)): Member {
    return { id, incarnation, state: 'alive', stateChangeMs: 0, addresses: { gossip: address }, meta: { version: 'sim', role: 'hub' } }
  }

  #start(id: string, incarnation: number, members: readonly Member[], address = addressOf(id)): SwimNode {
    const clock = new ProcessClock(this.clock)
    const transport = new MeteredTransport(this.net.transport(address))
    const node = new SwimNode({
      self: this.#member(id, incarnation, address),
      members,
      transport,
      clock,
      rng: seededRng(this.#rng.int(2 ** 31)),
      log: this.#log,
      profile: this.opts.profile,
    })
    const record = (state: MemberState) => (m: { id: string }) => this.transitions.push({ atMs: this.clock.now(), observer: id, member: m.id, state })
    node.on('memberJoined', record('alive')).on('memberSuspected', record('suspect')).on('memberDied', record('dead')).on('memberLeft', record('left'))
    node.on('memberUpdated', (m) => { if (m.state === 'alive') record('alive')(m) })
    this.hubs.set(id, { node, clock, address, transport })
    node.start()
    return node
  }

  node(id: string): SwimNode { return this.#hub(id).node }
  address(id: string): string { return this.#hub(id).address }

  traffic(id: string): Traffic {
    const hub = this.#hub(id)
    const net = this.net.stats(hub.address)
    return { packetsSent: net.packetsSent, packetBytesSent: net.bytesSent, requestsSent: hub.transport.streams.requests, streamBytesSent: hub.transport.streams.bytesSent }
  }

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

  /**
   * Runs virtual time until `promise` (a join, a leave) settles and returns its outcome. Such a
   * promise waits on the network, whose time moves only in `run`: awaiting it directly, with
   * nothing running the clock, would wait forever.
   */
  async settled<T>(promise: Promise<T>, limitMs: number): Promise<T> {
    let done = false
    const mark = (): void => { done = true }
    promise.then(mark, mark)
    await this.runUntil(() => done, limitMs, 1)
    return promise
  }

  crash(id: string): void {
    this.net.crash(this.address(id))
    this.node(id).stop()
  }

  pause(id: string): void {
    this.net.pause(this.address(id))
    this.#hub(id).clock.pause()
  }

  resume(id: string): void {
    this.#hub(id).clock.resume()
    this.net.resume(this.address(id))
  }

  ids(): string[] { return [...this.hubs.keys()] }

  /** True when every listed observer holds every listed member in `state`. */
  everyoneSees(members: readonly string[], state: MemberState, observers: readonly string[] = this.ids()): boolean {
    return observers.every((o) => members.every((m) => this.view(o, m) === state))
  }

  #hub(id: string): SimHub {
    const hub = this.hubs.get(id)
    if (!hub) throw new Error(`no member ${id} in the simulator`)
    return hub
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
