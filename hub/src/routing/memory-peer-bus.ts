import type { Clock } from '../base/clock.js'
import { TransportError } from '../base/errors.js'
import type { RouterMessage, RouterReply, RouterRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'

/**
 * Buses of many hubs in one process on a virtual clock: each one-way message and each request
 * and reply arrives after `delayMs`, in order per direction. A new bus (a hub started, or
 * restarted) tells each end that their link opened. `cut(a, b)` drops traffic both ways
 * (requests time out) until `heal()`, which tells both ends that their link opened again;
 * `crash(id)` makes a hub unreachable (requests refused at once) until `revive(id)`;
 * `refuse(a, b)` makes a's one-way messages to b fail to queue, as a full send queue does.
 */
export class MemoryBusNetwork {
  readonly #buses = new Map<string, MemoryPeerBus>()
  readonly #cuts = new Set<string>()
  readonly #down = new Set<string>()
  readonly #refused = new Set<string>()

  constructor(readonly clock: Clock, readonly delayMs = 1) {}

  /**
   * A hub's bus (a new run of it when `id` had one: a restart). Its links to the others open
   * `delayMs` later, and both ends are told (a restarted hub's peers see a new boot).
   */
  bus(id: string): MemoryPeerBus {
    const bus = new MemoryPeerBus(id, this)
    this.#buses.set(id, bus)
    this.#down.delete(id)
    for (const other of this.#buses.keys()) {
      if (other === id) continue
      this.#announce(id, other)
      this.#announce(other, id)
    }
    return bus
  }

  /** Tells `to`, `delayMs` from now, that its link from `from` opened (if `from` can reach it then). */
  #announce(from: string, to: string): void {
    this.clock.setTimeout(() => {
      const source = this.#buses.get(from)
      if (source && this.reach(from, to) instanceof MemoryPeerBus) this.#buses.get(to)?.linkOpened(from, source.boot)
    }, this.delayMs)
  }

  cut(a: string, b: string): void { this.#cuts.add(`${a}>${b}`).add(`${b}>${a}`) }
  /**
   * Ends every cut; each end of a cut pair is told its link opened again, `delayMs` later (the
   * reconnect), unless `announce` is false (a test of what works without that notice).
   */
  heal({ announce = true }: { announce?: boolean } = {}): void {
    const cuts = [...this.#cuts]
    this.#cuts.clear()
    if (!announce) return
    for (const pair of cuts) {
      const [from, to] = pair.split('>') as [string, string]
      this.#announce(from, to)
    }
  }
  refuse(from: string, to: string): void { this.#refused.add(`${from}>${to}`) }
  accept(): void { this.#refused.clear() }
  /** @internal whether `from`'s one-way messages to `to` fail to queue. */
  refuses(from: string, to: string): boolean { return this.#refused.has(`${from}>${to}`) }
  crash(id: string): void { this.#down.add(id) }
  /** Makes a crashed hub reachable again (as if restarted behind the same bus). */
  revive(id: string): void { this.#down.delete(id) }

  /**
   * @internal the bus `to`, if `from` can reach it now. `inFlight`: for something `from` sent
   * earlier, which arrives even if `from` has died since (it left with the kernel's buffers).
   */
  reach(from: string, to: string, inFlight = false): MemoryPeerBus | undefined | 'cut' {
    if (this.#cuts.has(`${from}>${to}`)) return 'cut'
    if (this.#down.has(to) || (!inFlight && this.#down.has(from))) return undefined
    return this.#buses.get(to)
  }
}

export class MemoryPeerBus implements PeerBus {
  #onMessage: (from: string, message: RouterMessage) => void = () => {}
  #onRequest: (from: string, request: RouterRequest) => Promise<RouterReply> = () => Promise.reject(new Error('no request handler'))
  #onLinkOpen: (peer: string, again: boolean, boot: string) => void = () => {}
  #closed = false
  static #boots = 0
  /** This run of the hub: a new bus for the same id (a restart) is a new one. */
  readonly boot: string

  constructor(readonly self: string, private readonly net: MemoryBusNetwork) {
    this.boot = `${self}#${++MemoryPeerBus.#boots}`
  }

  /** Per peer: the run of it this bus's last link was to. */
  readonly #peerBoots = new Map<string, string>()

  /** @internal the link from `peer` (run `boot`) opened: first, after a cut (`MemoryBusNetwork.heal`), or to a restarted peer. */
  linkOpened(peer: string, boot: string): void {
    if (this.#closed) return
    const again = this.#peerBoots.get(peer) === boot
    this.#peerBoots.set(peer, boot)
    this.#onLinkOpen(peer, again, boot)
  }

  setPeers(): void { /* peers are found by id */ }

  send(peer: string, message: RouterMessage): boolean {
    if (this.#closed || this.net.refuses(this.self, peer)) return false
    const to = this.net.reach(this.self, peer)
    if (to === undefined || to === 'cut') return false
    const copy = structuredClone(message)
    this.net.clock.setTimeout(() => { if (this.net.reach(this.self, peer, true) === to) to.#onMessage(this.self, copy) }, this.net.delayMs)
    return true
  }

  request(peer: string, request: RouterRequest, timeoutMs: number): Promise<RouterReply> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new TransportError('closed', 'bus closed'))
      const to = this.net.reach(this.self, peer)
      if (to === undefined) return reject(new TransportError('unreachable', `${peer} is not reachable`))
      let done = false
      const timer = this.net.clock.setTimeout(() => { done = true; reject(new TransportError('timeout', `request to ${peer} timed out`)) }, timeoutMs)
      if (to === 'cut') return
      const copy = structuredClone(request)
      this.net.clock.setTimeout(() => {
        // A request reaching a hub that has died since is lost with it: the caller times out.
        if (this.net.reach(this.self, peer, true) !== to) return
        to.#onRequest(this.self, copy).then((reply) => {
          // A hub that died while handling the request never answers it.
          if (this.net.reach(peer, this.self) !== this) return
          this.net.clock.setTimeout(() => {
            if (done || this.net.reach(peer, this.self, true) === 'cut') return
            done = true
            this.net.clock.clearTimeout(timer)
            resolve(structuredClone(reply))
          }, this.net.delayMs)
        }, (err: unknown) => {
          if (done) return
          done = true
          this.net.clock.clearTimeout(timer)
          reject(new TransportError('closed', `${peer} failed the request`, { cause: err }))
        })
      }, this.net.delayMs)
    })
  }

  onMessage(handler: (from: string, message: RouterMessage) => void): void { this.#onMessage = handler }
  onRequest(handler: (from: string, request: RouterRequest) => Promise<RouterReply>): void { this.#onRequest = handler }
  onLinkOpen(handler: (peer: string, again: boolean, boot: string) => void): void { this.#onLinkOpen = handler }

  async close(): Promise<void> {
    this.#closed = true
    this.net.crash(this.self)
  }
}
