import type { Clock } from '../base/clock.js'
import { TransportError } from '../base/errors.js'
import type { Rng } from '../base/rng.js'
import type { PacketHandler, RequestHandler, Transport } from './transport.js'

/** How one direction of a link treats datagrams and streams. Requests (TCP) are never lost, but
 *  `lossRate` delays them by retransmission timeouts. */
export interface LinkRules {
  /** Probability that a packet is lost, 0..1: a datagram is gone, a TCP segment is resent after a
   *  retransmission timeout. */
  lossRate: number
  /** Fixed one-way delay, ms. */
  delayMs: number
  /** Extra uniformly random delay, 0..jitterMs ms (so datagrams may overtake each other). */
  jitterMs: number
  /** Probability that a delivered datagram arrives twice, 0..1. */
  duplicateRate: number
  /** A firewall that drops every datagram on the link while TCP passes untouched. */
  udpBlocked: boolean
}

/** Linux's initial SYN retransmission timeout (RFC 6298 §2.1: 1 s). */
const SYN_RTO_MS = 1_000
/** Linux's minimum RTO for data segments on a LAN (`TCP_RTO_MIN`). */
const DATA_RTO_MS = 200
/** Retransmissions modelled per segment; beyond, the caller's timeout has long fired. */
const MAX_RETRANSMITS = 6

const NO_FAULTS: LinkRules = { lossRate: 0, delayMs: 0, jitterMs: 0, duplicateRate: 0, udpBlocked: false }

export interface NetworkStats {
  packetsSent: number
  packetsDelivered: number
  packetsDropped: number
  bytesSent: number
  requests: number
}

interface Endpoint {
  transport: MemoryTransport
  state: 'up' | 'paused' | 'crashed'
  /** Deliveries held while paused (a stopped process's socket buffer), run on resume. */
  held: Array<() => void>
  stats: NetworkStats
}

/**
 * The in-memory twin of the network (STYLE §3): endpoints on one virtual clock, with seeded
 * loss, delay, jitter, duplication, partitions, paused and crashed endpoints. Deterministic for a
 * given seed and sequence of calls, so a membership scenario replays exactly.
 */
export class MemoryNetwork {
  readonly #clock: Clock
  readonly #rng: Rng
  readonly #endpoints = new Map<string, Endpoint>()
  readonly #links = new Map<string, Partial<LinkRules>>()
  readonly #cuts = new Set<string>()
  #defaults: LinkRules
  readonly maxPacketBytes: number
  /** Datagrams a paused endpoint holds before it drops more (like a full socket buffer). */
  readonly maxHeldPackets: number

  constructor(opts: { clock: Clock, rng: Rng, defaults?: Partial<LinkRules>, maxPacketBytes?: number, maxHeldPackets?: number }) {
    this.#clock = opts.clock
    this.#rng = opts.rng
    this.#defaults = { ...NO_FAULTS, ...opts.defaults }
    this.maxPacketBytes = opts.maxPacketBytes ?? 1400
    this.maxHeldPackets = opts.maxHeldPackets ?? 1000
  }

  /** Creates the endpoint at `address` (or returns the existing one, brought back up). */
  transport(address: string): MemoryTransport {
    const existing = this.#endpoints.get(address)
    if (existing) {
      existing.state = 'up'
      return existing.transport
    }
    const transport = new MemoryTransport(this, address)
    this.#endpoints.set(address, { transport, state: 'up', held: [], stats: emptyStats() })
    return transport
  }

  setDefaults(rules: Partial<LinkRules>): void { this.#defaults = { ...this.#defaults, ...rules } }

  /** Rules for the direction from → to (overrides the defaults field by field). */
  setLink(from: string, to: string, rules: Partial<LinkRules>): void { this.#links.set(`${from}>${to}`, rules) }

  /** Cuts every link between the two groups, both directions (like faultnet.sh partition). */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) { this.#cuts.add(`${x}>${y}`); this.#cuts.add(`${y}>${x}`) }
  }

  /** Cuts one direction only (from can no longer reach to). */
  cutOneWay(from: string, to: string): void { this.#cuts.add(`${from}>${to}`) }

  heal(): void { this.#cuts.clear() }

  /** The process at `address` stops: it neither sends nor receives; requests to it are refused. */
  crash(address: string): void {
    const ep = this.#endpoint(address)
    ep.state = 'crashed'
    ep.held = []
  }

  /** The process at `address` is stopped (SIGSTOP): what reaches it waits until resume. */
  pause(address: string): void { this.#endpoint(address).state = 'paused' }

  resume(address: string): void {
    const ep = this.#endpoint(address)
    if (ep.state !== 'paused') return
    ep.state = 'up'
    const held = ep.held
    ep.held = []
    for (const deliver of held) deliver()
  }

  stateOf(address: string): Endpoint['state'] | undefined { return this.#endpoints.get(address)?.state }

  stats(address: string): NetworkStats { return { ...this.#endpoint(address).stats } }

  /** Called by MemoryTransport.sendPacket. */
  sendPacket(from: string, to: string, data: Uint8Array): void {
    const src = this.#endpoints.get(from)
    if (!src || src.state !== 'up') return // a stopped or crashed process sends nothing
    src.stats.packetsSent++
    src.stats.bytesSent += data.length
    if (data.length > this.maxPacketBytes || this.#cuts.has(`${from}>${to}`)) return this.#dropped(src)
    const rules = this.#rules(from, to)
    if (rules.udpBlocked || this.#rng.next() < rules.lossRate) return this.#dropped(src)
    const copies = this.#rng.next() < rules.duplicateRate ? 2 : 1
    const bytes = Uint8Array.from(data) // the sender may reuse its buffer
    for (let i = 0; i < copies; i++) {
      this.#after(this.#delay(rules), () => this.#arrive(to, () => {
        const dst = this.#endpoints.get(to)
        if (!dst) return
        dst.stats.packetsDelivered++
        dst.transport.deliverPacket(from, bytes)
      }, src))
    }
  }

  /** Called by MemoryTransport.request. */
  request(from: string, to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const src = this.#endpoints.get(from)
      if (!src || src.state !== 'up') return reject(new TransportError('closed', `${from} is not running`))
      src.stats.requests++
      let settled = false
      const settle = (fn: () => void): void => {
        if (settled) return
        settled = true
        this.#clock.clearTimeout(timer)
        fn()
      }
      const timer = this.#clock.setTimeout(() => settle(() => reject(new TransportError('timeout', `request to ${to} timed out after ${timeoutMs} ms`))), timeoutMs)
      const there = this.#rules(from, to)
      const back = this.#rules(to, from)
      // TCP under loss: nothing is lost, but each lost segment costs a retransmission timeout.
      // The handshake (SYN there, SYN-ACK back) and the request travel before the handler runs.
      const arrivalMs = this.#delay(there) + this.#retransmitMs(there, SYN_RTO_MS) + this.#retransmitMs(back, SYN_RTO_MS) + this.#retransmitMs(there, DATA_RTO_MS)
      this.#after(arrivalMs, () => {
        // A cut link drops the connection attempt silently: the caller waits for its timeout.
        if (this.#cuts.has(`${from}>${to}`)) return
        const dst = this.#endpoints.get(to)
        if (!dst || dst.state === 'crashed') {
          // The host is up but nothing listens: connection refused, answered at once.
          return this.#after(this.#delay(back), () => settle(() => reject(new TransportError('refused', `nothing listens at ${to}`))))
        }
        this.#arrive(to, () => {
          dst.transport.handleRequest(from, Uint8Array.from(data)).then((response) => {
            this.#after(this.#delay(back) + this.#retransmitMs(back, DATA_RTO_MS), () => {
              if (this.#cuts.has(`${to}>${from}`)) return
              settle(() => resolve(response))
            })
          }, (err: unknown) => {
            this.#after(this.#delay(back), () => settle(() => reject(new TransportError('closed', `${to} closed the request`, { cause: err }))))
          })
        })
      })
    })
  }

  #arrive(to: string, deliver: () => void, src?: Endpoint): void {
    const dst = this.#endpoints.get(to)
    if (!dst || dst.state === 'crashed') { if (src) this.#dropped(src); return }
    if (dst.state === 'paused') {
      if (dst.held.length >= this.maxHeldPackets) { if (src) this.#dropped(src); return }
      dst.held.push(deliver)
      return
    }
    deliver()
  }

  #dropped(src: Endpoint): void { src.stats.packetsDropped++ }

  #rules(from: string, to: string): LinkRules {
    return { ...this.#defaults, ...this.#links.get(`${from}>${to}`) }
  }

  /**
   * What loss adds to one TCP segment over a link: for every time it is lost (`lossRate`, drawn
   * only when > 0 so loss-free runs replay unchanged) a retransmission timeout that doubles each
   * time (RFC 6298), up to `MAX_RETRANSMITS`.
   */
  #retransmitMs(rules: LinkRules, firstRtoMs: number): number {
    let ms = 0
    let rtoMs = firstRtoMs
    for (let i = 0; i < MAX_RETRANSMITS && rules.lossRate > 0 && this.#rng.next() < rules.lossRate; i++) {
      ms += rtoMs
      rtoMs *= 2
    }
    return ms
  }

  #delay(rules: LinkRules): number {
    return rules.delayMs + (rules.jitterMs > 0 ? this.#rng.next() * rules.jitterMs : 0)
  }

  #after(ms: number, fn: () => void): void { this.#clock.setTimeout(fn, ms) }

  #endpoint(address: string): Endpoint {
    const ep = this.#endpoints.get(address)
    if (!ep) throw new Error(`no endpoint ${address} on this network`)
    return ep
  }
}

/** One endpoint of a MemoryNetwork, seen through the Transport interface. */
export class MemoryTransport implements Transport {
  #onPacket: PacketHandler = () => {}
  #onRequest: RequestHandler = () => Promise.reject(new Error('no request handler'))

  constructor(private readonly network: MemoryNetwork, readonly address: string) {}

  get maxPacketBytes(): number { return this.network.maxPacketBytes }

  sendPacket(to: string, data: Uint8Array): void { this.network.sendPacket(this.address, to, data) }

  request(to: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.network.request(this.address, to, data, timeoutMs)
  }

  onPacket(handler: PacketHandler): void { this.#onPacket = handler }
  onRequest(handler: RequestHandler): void { this.#onRequest = handler }

  async close(): Promise<void> { this.network.crash(this.address) }

  /** Network side: a datagram arrived. */
  deliverPacket(from: string, data: Uint8Array): void { this.#onPacket(from, data) }

  /** Network side: a request arrived. */
  handleRequest(from: string, data: Uint8Array): Promise<Uint8Array> {
    try {
      return this.#onRequest(from, data)
    } catch (err) {
      return Promise.reject(err)
    }
  }
}

function emptyStats(): NetworkStats {
  return { packetsSent: 0, packetsDelivered: 0, packetsDropped: 0, bytesSent: 0, requests: 0 }
}
