/**
 * Piggybacked dissemination (SWIM §4.1, "infection-style"): membership news waits here and rides
 * on outgoing gossip, pings and acks until it has been sent `retransmitLimit` times. Modelled on
 * memberlist's `TransmitLimitedQueue` (`queue.go`).
 */

/**
 * How many times each broadcast is sent: `retransmitMult × ceil(log10(n + 1))` (memberlist
 * `retransmitLimit`). With each member forwarding news to a few others per gossip round, about
 * log N rounds reach everyone with high probability (SWIM §4.1); the multiplier buys margin for
 * packet loss. 0 when n is 0, but a broadcast is always sent at least once.
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1))
}

/** Why a broadcast left the queue. */
export type BroadcastEnd =
  /** Sent `retransmitLimit` times. */
  | 'sent'
  /** A newer broadcast with the same key replaced it. */
  | 'invalidated'
  /** Evicted because the queue was full (counted in `droppedTotal`). */
  | 'dropped'
  /** Removed by `clear()`. */
  | 'cleared'

export interface BroadcastQueueOptions {
  /** memberlist `RetransmitMult` (LAN default 4). */
  retransmitMult: number
  /** Current ring size, read on every `getBroadcasts` (memberlist `NumNodes`). */
  numMembers: () => number
  /**
   * Most broadcasts held at once; beyond it the one furthest back in sending order is dropped
   * and counted. Default 4096 (Serf's `MaxQueueDepth`; memberlist itself leaves pruning to its
   * user). Bounded so a churn storm cannot grow memory without limit (DESIGN §3.6).
   */
  maxQueued?: number
}

interface Entry {
  key: string
  message: Uint8Array
  transmits: number
  /** Increasing per enqueue: higher is newer. */
  id: number
  onFinished: ((end: BroadcastEnd) => void) | undefined
}

/** Sending order: fewest transmits first (fresh news spreads fastest), then newest first. */
function bySendingOrder(a: Entry, b: Entry): number {
  return a.transmits - b.transmits || b.id - a.id
}

export class BroadcastQueue {
  readonly #retransmitMult: number
  readonly #numMembers: () => number
  readonly #maxQueued: number
  readonly #entries = new Map<string, Entry>()
  #nextId = 1
  #droppedTotal = 0

  constructor(options: BroadcastQueueOptions) {
    this.#retransmitMult = options.retransmitMult
    this.#numMembers = options.numMembers
    this.#maxQueued = options.maxQueued ?? 4096
    if (!Number.isInteger(this.#maxQueued) || this.#maxQueued < 1) {
      throw new RangeError(`maxQueued must be an integer ≥ 1, got ${this.#maxQueued}`)
    }
  }

  /** Broadcasts queued now. */
  get size(): number { return this.#entries.size }

  /** Broadcasts evicted because the queue was full, since creation. */
  get droppedTotal(): number { return this.#droppedTotal }

  has(key: string): boolean { return this.#entries.has(key) }

  /**
   * Queues `message` (an encoded gossip packet) under `key`, the id of the member it is about:
   * news about a member supersedes older news about the same member (memberlist's
   * `NamedBroadcast`), which finishes as `invalidated`. `onFinished` is called exactly once
   * when the broadcast leaves the queue (a graceful leave waits on it, like memberlist's
   * `leaveBroadcast` notify channel).
   */
  enqueue(key: string, message: Uint8Array, onFinished?: (end: BroadcastEnd) => void): void {
    const old = this.#entries.get(key)
    if (old) {
      this.#entries.delete(key)
      old.onFinished?.('invalidated')
    }
    this.#entries.set(key, { key, message, transmits: 0, id: this.#nextId++, onFinished })
    while (this.#entries.size > this.#maxQueued) this.#dropLast()
  }

  /**
   * Takes broadcasts for one outgoing packet: in sending order, each that still fits in
   * `limitBytes` counting `overheadBytes` per message (the compound framing of each part);
   * skips ones too large for what is left and keeps looking for smaller ones (as memberlist
   * does). Every message taken counts one transmit; those reaching the limit leave the queue.
   */
  getBroadcasts(overheadBytes: number, limitBytes: number): Uint8Array[] {
    if (this.#entries.size === 0) return []
    const limit = retransmitLimit(this.#retransmitMult, this.#numMembers())
    const out: Uint8Array[] = []
    let usedBytes = 0
    for (const entry of [...this.#entries.values()].sort(bySendingOrder)) {
      const freeBytes = limitBytes - usedBytes - overheadBytes
      if (freeBytes <= 0) break
      if (entry.message.byteLength > freeBytes) continue
      usedBytes += overheadBytes + entry.message.byteLength
      out.push(entry.message)
      entry.transmits++
      if (entry.transmits >= limit) {
        this.#entries.delete(entry.key)
        entry.onFinished?.('sent')
      }
    }
    return out
  }

  /** Empties the queue (on leave or shutdown); every broadcast finishes as `cleared`. */
  clear(): void {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    for (const entry of entries) entry.onFinished?.('cleared')
  }

  /**
   * Evicts the broadcast that would be sent last: most transmits (it has spread furthest),
   * then oldest. memberlist's `Prune` drops from the same end of its order.
   */
  #dropLast(): void {
    let last: Entry | undefined
    for (const entry of this.#entries.values()) {
      if (!last || bySendingOrder(entry, last) > 0) last = entry
    }
    if (!last) return
    this.#entries.delete(last.key)
    this.#droppedTotal++
    last.onFinished?.('dropped')
  }
}
