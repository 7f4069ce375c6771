import { Readable } from 'node:stream'
import type { PacketLike } from '../store/packet-codec.js'

/**
 * A reconnecting persistent client gets its whole queue before any live message (per-key order,
 * DESIGN invariant 2). aedes subscribes the client (restoreSubs) before it sends the queue
 * (emptyQueue), so a message arriving in between would overtake the queued ones. In Ringhub every
 * QoS 1/2 message for a persistent session is queued before it is delivered live (RingEmitter,
 * and aedes' own pipeline for `$` topics), which makes this possible:
 *
 * 1. From CONNECT until the queue is empty, live QoS 1/2 deliveries to the client are left to the
 *    queue (`isDrainingQueue`, checked by the delivery wrapper of max-qos-delivery.ts).
 * 2. aedes' emptyQueue sends the queue as it was when it started (`snapshotStream`), every row,
 *    those in flight before a disconnect included.
 * 3. Once aedes has written all of them (its `clientReady`), `catchUp` sends the rows queued
 *    meanwhile, pass after pass, and in the same turn as a pass that finds none, live delivery
 *    resumes. A message queued after that pass is delivered live (its delivery comes after its
 *    row), one queued before it is in the pass: nothing falls in between.
 *
 * aedes drops a message whose counter is not above the last one a client got from the same
 * brokerId (`client.duplicates`); ring deliveries carry `key@epoch` / seq there (RingEmitter). The
 * snapshot advances that record as it is sent, so a live copy of a queued message goes once.
 */

const STATE = Symbol('ringhub.queueFirst')

interface QueueFirstState {
  /** Rows already sent in this drain, by origin (a row's seq, a SQLite rowid, can be reused). */
  sent: Set<string>
}

interface QueueFirstClient {
  [STATE]?: QueueFirstState | undefined
  duplicates?: Record<string, number>
}

/** Rows of a client's queue as the persistence returns them. */
export interface QueueRows {
  outgoingRows(client: { id: string }): Array<{ seq: number, packet: PacketLike }>
  outgoingUnsent(client: { id: string }): Array<{ seq: number, packet: PacketLike }>
}

/** Passes of `catchUp` before live delivery takes over anyway (a queue refilled faster than sent). */
const MAX_PASSES = 1_000

/** Called at CONNECT of a persistent session: its client gets its queue first. */
export function beginQueueFirst(client: object): void {
  (client as QueueFirstClient)[STATE] = { sent: new Set() }
}

/** Whether live QoS 1/2 deliveries to this client are left to its queue. */
export function isDrainingQueue(client: object): boolean {
  return (client as QueueFirstClient)[STATE] !== undefined
}

/** The queue as aedes' emptyQueue reads it when the client drains: every row, oldest first. */
export function snapshotStream(client: object, rows: QueueRows): Readable {
  const c = client as QueueFirstClient & { id: string }
  const state = c[STATE]
  const packets = rows.outgoingRows(c).map((row) => {
    if (state) state.sent.add(originOf(row))
    noteSent(c, row.packet)
    return row.packet
  })
  return Readable.from(packets, { objectMode: true })
}

/**
 * After aedes sent the snapshot: sends what was queued meanwhile through `deliver` (aedes'
 * delivery, in order), until a pass finds nothing new; then live delivery resumes.
 */
export async function catchUp(client: object, rows: QueueRows, deliver: (packet: PacketLike) => Promise<void>): Promise<void> {
  const c = client as QueueFirstClient & { id: string }
  const state = c[STATE]
  if (!state) return
  try {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const fresh = rows.outgoingUnsent(c).filter((row) => !state.sent.has(originOf(row)))
      if (fresh.length === 0) return
      for (const row of fresh) state.sent.add(originOf(row))
      await Promise.all(fresh.map((row) => deliver(row.packet)))
    }
  } finally {
    c[STATE] = undefined
  }
}

function originOf({ seq, packet }: { seq: number, packet: PacketLike }): string {
  return typeof packet.brokerId === 'string' && typeof packet.brokerCounter === 'number' ? `${packet.brokerId}\u0000${packet.brokerCounter}` : `#${seq}`
}

function noteSent(client: QueueFirstClient, packet: PacketLike): void {
  const { brokerId, brokerCounter } = packet
  if (!client.duplicates || typeof brokerId !== 'string' || typeof brokerCounter !== 'number') return
  if ((client.duplicates[brokerId] ?? 0) < brokerCounter) client.duplicates[brokerId] = brokerCounter
}
