import type { MqttClient } from 'mqtt'
import { connect } from './mqtt.js'

/**
 * A QoS 1 load generator for fault tests: several publisher connections, each with pipelined
 * publishes (up to `keyWindow` unacknowledged per key), paced to an offered rate in total. Every
 * key belongs to one connection, and each message carries `<key>:<n>` with `n` counting up per
 * key from 1, so a subscriber can check per-key order and tell phantoms from sent messages.
 * It measures what it achieved: a loaded machine may not let it send the rate it offers.
 */
export interface Qos1LoadOptions {
  /** One publisher connection per entry: the hub's MQTT URL and the keys it publishes on. */
  publishers: ReadonlyArray<{ url: string, keys: readonly string[] }>
  /** Messages per second offered in total. */
  ratePerSec: number
  /** Unacknowledged publishes one key may have outstanding (a device's in-flight window); the
   *  pacer skips a key at its limit and gives its turn to the next. */
  keyWindow: number
  /** A publish unacknowledged this long frees its window slot (it still counts if acked later), ms. */
  ackTimeoutMs: number
  /** The offered rate rises linearly from 0 over this long at the start, ms (default 0). */
  rampMs?: number
  /** Topic of a key's messages (default `<key>/t`). */
  topicOf?: (key: string) => string
}

export interface SentMessage {
  key: string
  n: number
  sentMs: number
  ackedMs?: number
}

export interface LoadStats {
  sent: number
  acked: number
  /** Sent, never acknowledged (connection lost, or no answer before the end). */
  unacked: number
  /** Messages the pacer could not send because every key was at its window (closed loop). */
  shed: number
  /** Publisher connections lost and replaced. */
  reconnects: number
  durationMs: number
  /** Sent per second over the run. */
  sentPerSec: number
  /** Acknowledged per second over the run. */
  ackedPerSec: number
}

interface Publisher {
  url: string
  client: MqttClient | undefined
  /** Outstanding publishes (payload → sent time), oldest first. */
  inFlight: Map<string, number>
  generation: number
}

interface KeySlot {
  key: string
  publisher: Publisher
  /** Unacknowledged publishes of this key. */
  inFlight: number
}

const TICK_MS = 5

export class Qos1Load {
  /** Every message sent, by payload. */
  readonly messages = new Map<string, SentMessage>()
  readonly #counters = new Map<string, number>()
  readonly #slotOf = new Map<string, KeySlot>()
  readonly #publishers: Publisher[]
  /** Every key, publishers interleaved, in the pacer's round-robin order. */
  readonly #slots: KeySlot[]
  #nextSlot = 0
  readonly #topicOf: (key: string) => string
  #timer: NodeJS.Timeout | undefined
  #startedMs = 0
  #stoppedMs: number | undefined
  #tokens = 0
  #lastTickMs = 0
  #shed = 0
  #reconnects = 0
  #acked = 0
  #closed = false
  /** Called on every acknowledgement (after `ackedMs` is set). */
  onAck: ((m: SentMessage) => void) | undefined
  /** Called on every publish sent, with its payload and the publisher's URL (a history's attempt). */
  onSend: ((payload: string, m: SentMessage, url: string) => void) | undefined

  constructor(private readonly options: Qos1LoadOptions) {
    this.#publishers = options.publishers.map((p) => ({ url: p.url, client: undefined, inFlight: new Map(), generation: 0 }))
    const slots = options.publishers.map((p, i) => p.keys.map((key) => ({ key, publisher: this.#publishers[i] as Publisher, inFlight: 0 })))
    this.#slots = []
    for (let k = 0; k < Math.max(...slots.map((s) => s.length)); k++) {
      for (const s of slots) { const slot = s[k]; if (slot) this.#slots.push(slot) }
    }
    for (const slot of this.#slots) this.#slotOf.set(slot.key, slot)
    this.#topicOf = options.topicOf ?? ((key) => `${key}/t`)
  }

  /** Connects every publisher and starts sending. */
  async start(): Promise<void> {
    await Promise.all(this.#publishers.map((p, i) => this.#connect(p, i)))
    this.#startedMs = this.#lastTickMs = performance.now()
    this.#timer = setInterval(() => this.#tick(), TICK_MS)
  }

  /** Stops sending, then waits (up to `settleMs`) for outstanding publishes to be acknowledged. */
  async stop(settleMs: number): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    this.#stoppedMs ??= performance.now()
    const end = performance.now() + settleMs
    while (this.#publishers.some((p) => p.inFlight.size > 0) && performance.now() < end) await new Promise((r) => setTimeout(r, 20))
  }

  /** Ends every publisher connection. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await Promise.all(this.#publishers.map((p) => p.client?.endAsync(true)))
  }

  /** Counts so far, to measure a rate between two moments (`ratesBetween`). */
  snapshot(): { atMs: number, sent: number, acked: number } {
    return { atMs: performance.now(), sent: this.messages.size, acked: this.#acked }
  }

  get acked(): SentMessage[] {
    return [...this.messages.values()].filter((m) => m.ackedMs !== undefined)
  }

  stats(): LoadStats {
    const durationMs = (this.#stoppedMs ?? performance.now()) - this.#startedMs
    const sent = this.messages.size
    return {
      sent, acked: this.#acked, unacked: sent - this.#acked, shed: Math.round(this.#shed), reconnects: this.#reconnects,
      durationMs: Math.round(durationMs),
      sentPerSec: Math.round(sent / (durationMs / 1000)),
      ackedPerSec: Math.round(this.#acked / (durationMs / 1000)),
    }
  }

  async #connect(p: Publisher, index: number): Promise<void> {
    const generation = ++p.generation
    // A fresh client id each time: a lost connection's messages are not re-sent by mqtt.js
    // (reconnectPeriod 0), so every payload is published at most once by the test.
    const client = await connect(p.url, { clientId: `load-${index}-${generation}-${process.pid}`, clean: true })
    client.on('error', () => { /* 'close' follows */ })
    client.on('close', () => {
      if (this.#closed || p.generation !== generation) return
      p.client = undefined
      // Never acknowledged now; they stay in `messages` as unacked.
      for (const payload of [...p.inFlight.keys()]) this.#settle(p, payload)
      this.#reconnects++
      void this.#connect(p, index).catch(() => { /* retried by the next tick */ })
    })
    p.client = client
  }

  #tick(): void {
    const now = performance.now()
    const { keyWindow, ackTimeoutMs, rampMs = 0 } = this.options
    const ratePerSec = this.options.ratePerSec * Math.min(1, rampMs > 0 ? (now - this.#startedMs) / rampMs : 1)
    this.#tokens += ratePerSec * (now - this.#lastTickMs) / 1000
    this.#lastTickMs = now
    for (const p of this.#publishers) {
      for (const [payload, sentMs] of p.inFlight) {
        if (now - sentMs < ackTimeoutMs) break // oldest first
        this.#settle(p, payload)
      }
    }
    // Round robin over the keys with room in their window (and a connection).
    const n = this.#slots.length
    while (this.#tokens >= 1) {
      let slot: KeySlot | undefined
      for (let tried = 0; tried < n && !slot; tried++) {
        const s = this.#slots[this.#nextSlot++ % n] as KeySlot
        if (s.inFlight < keyWindow && s.publisher.client) slot = s
      }
      if (!slot) break
      this.#send(slot, slot.publisher.client as MqttClient, now)
      this.#tokens--
    }
    // Whatever could not be sent within 50 ms of its time is shed rather than sent in a burst.
    const cap = Math.max(2, ratePerSec * 0.05)
    if (this.#tokens > cap) {
      this.#shed += this.#tokens - cap
      this.#tokens = cap
    }
  }

  /** A publish no longer counts against its key's window (acknowledged, timed out, or lost). */
  #settle(p: Publisher, payload: string): void {
    if (!p.inFlight.delete(payload)) return
    const slot = this.#slotOf.get((this.messages.get(payload) as SentMessage).key) as KeySlot
    slot.inFlight--
  }

  #send(slot: KeySlot, client: MqttClient, now: number): void {
    const { key, publisher: p } = slot
    const n = (this.#counters.get(key) ?? 0) + 1
    this.#counters.set(key, n)
    const payload = `${key}:${n}`
    const message: SentMessage = { key, n, sentMs: now }
    this.messages.set(payload, message)
    p.inFlight.set(payload, now)
    slot.inFlight++
    this.onSend?.(payload, message, p.url)
    client.publish(this.#topicOf(key), payload, { qos: 1 }, (err) => {
      this.#settle(p, payload)
      if (err || message.ackedMs !== undefined) return
      message.ackedMs = performance.now()
      this.#acked++
      this.onAck?.(message)
    })
  }
}

/** Sent and acknowledged per second between two snapshots. */
export function ratesBetween(a: ReturnType<Qos1Load['snapshot']>, b: ReturnType<Qos1Load['snapshot']>): { sentPerSec: number, ackedPerSec: number } {
  const s = (b.atMs - a.atMs) / 1000
  return { sentPerSec: Math.round((b.sent - a.sent) / s), ackedPerSec: Math.round((b.acked - a.acked) / s) }
}

/** What subscribers received, checked against what was sent. */
export interface DeliveryCheck {
  received: number
  /** Acknowledged messages this subscriber should hold and does not. */
  lost: number
  /** Received, never sent. */
  phantoms: number
  /** Received again after a first time (QoS 1 allows it). */
  duplicates: number
  /** A first reception of a key's message numbered below one received earlier. */
  reorders: number
}

/**
 * Checks one subscriber's payloads (arrival order) against the load: lost = `mustHave` payloads
 * missing; reorders count messages that arrive for the first time after a higher number of
 * their key (a repeat of an earlier message is a duplicate, which QoS 1 allows, not a reorder).
 */
export function checkDeliveries(received: readonly string[], load: Qos1Load, mustHave: Iterable<string>): DeliveryCheck {
  const seen = new Set<string>()
  const highest = new Map<string, number>()
  let phantoms = 0
  let duplicates = 0
  let reorders = 0
  for (const payload of received) {
    const sent = load.messages.get(payload)
    if (!sent) { phantoms++; continue }
    if (seen.has(payload)) { duplicates++; continue }
    seen.add(payload)
    const top = highest.get(sent.key) ?? 0
    if (sent.n < top) reorders++
    else highest.set(sent.key, sent.n)
  }
  let lost = 0
  for (const payload of mustHave) if (!seen.has(payload)) lost++
  return { received: received.length, lost, phantoms, duplicates, reorders }
}

/**
 * Lines that explain a failed check, for the test output: the first lost messages (times
 * relative to `zeroMs`, e.g. the kill) and, for the first reordered keys, the arrival order
 * around the first reorder.
 */
export function explainDeliveries(received: readonly string[], load: Qos1Load, mustHave: Iterable<string>, zeroMs: number, limit = 10): string[] {
  const rel = (t: number | undefined): string => (t === undefined ? '-' : `${Math.round(t - zeroMs)}`)
  const got = new Set(received)
  const lines: string[] = []
  for (const payload of mustHave) {
    if (got.has(payload)) continue
    const m = load.messages.get(payload)
    if (lines.length < limit) lines.push(`lost ${payload}: sent at ${rel(m?.sentMs)} ms, acked at ${rel(m?.ackedMs)} ms`)
  }
  const byKey = new Map<string, number[]>()
  for (const payload of received) {
    const m = load.messages.get(payload)
    if (!m) continue
    const list = byKey.get(m.key)
    if (list) list.push(m.n)
    else byKey.set(m.key, [m.n])
  }
  let shown = 0
  for (const [key, ns] of byKey) {
    let top = 0
    const at = ns.findIndex((n) => { const before = top; top = Math.max(top, n); return n < before && ns.indexOf(n) === ns.lastIndexOf(n) })
    if (at < 0 || shown++ >= limit) continue
    lines.push(`reordered ${key}: ${ns.slice(Math.max(0, at - 8), at + 8).join(' ')} (first reorder at arrival ${at})`)
  }
  return lines
}
