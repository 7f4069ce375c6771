import type { Client } from 'aedes'
import type { Logger } from '../base/log.js'
import { nextTurn } from '../base/next-turn.js'
import type { SessionEndMessage, SessionReply, SessionRequest, WirePacket, WireSubscription } from '../routing/messages.js'
import type { PeerBus } from '../routing/peer-bus.js'
import { payloadBytes } from '../store/packet-codec.js'
import type { PacketLike, Subscription } from '../store/sqlite-persistence.js'
import type { RoutedPersistence } from './routed-persistence.js'

/** How long a connecting client waits for peers to say whether they hold its session, ms. */
const FIND_TIMEOUT_MS = 1_000
/** How long the hub holding a session has to hand it over, ms (it waits for barriers first). */
const TAKE_TIMEOUT_MS = 5_000
/** How long the holder waits for each peer's barrier ack, ms. */
const BARRIER_TIMEOUT_MS = 1_000

export interface SessionHandoffStats {
  /** Persistent sessions taken over from another hub (this hub was the client's new hub). */
  taken: number
  /** Sessions handed to another hub. */
  handedOver: number
  /** Sessions ended here because the client connected elsewhere with a clean session. */
  discarded: number
  /** A holder that did not hand a session over in time (the client keeps its subscriptions). */
  takeFailures: number
  /** Barrier acks that did not come in time while handing a session over. */
  barrierTimeouts: number
}

export interface SessionHandoffDeps {
  bus: Pick<PeerBus, 'request' | 'send'>
  router: {
    peers(): readonly string[]
    barrier(peer: string, timeoutMs: number): Promise<boolean>
    serve(types: ReadonlyArray<'session-find' | 'session-take'>, handler: (from: string, r: SessionRequest) => Promise<SessionReply>): void
    listen(types: ReadonlyArray<'session-end'>, handler: (from: string, m: SessionEndMessage) => void): void
  }
  persistence: RoutedPersistence
  /** aedes' connected clients by id. */
  clients: () => Readonly<Record<string, Client | undefined>>
  log: Logger
}

/**
 * One client id, one session in the whole ring, as in one broker (DESIGN §2, issue 4 item 7).
 *
 * A client that connects with a persistent session (clean = false) to a hub that does not hold it
 * gets it from the hub that does: this hub first subscribes the session's filters here, so every
 * message numbered from then on reaches this hub; then the holder closes the client's old
 * connection, waits for a barrier on each peer's link (every message numbered before this hub's
 * interest has then reached the holder's queue), and hands over the subscriptions and the queued
 * messages, which go ahead of those queued here meanwhile. A message in both queues is sent once:
 * ring deliveries carry `brokerId = key@epoch` and `brokerCounter = seq`, and aedes skips a
 * message whose counter is not above the last one a client got for that brokerId.
 *
 * A client that connects with a clean session, or whose session this hub already holds, ends any
 * other hub's session (and connection) for its id.
 *
 * Not covered: a holder that is dead. The session is not replicated, so the client then starts a
 * new one (CONNACK session present = 0, as MQTT asks a client to handle) and can catch up from
 * the topic logs by offset (docs/routing.md, "Resume").
 */
export class SessionHandoff {
  readonly stats: SessionHandoffStats = { taken: 0, handedOver: 0, discarded: 0, takeFailures: 0, barrierTimeouts: 0 }

  constructor(private readonly deps: SessionHandoffDeps) {
    deps.router.serve(['session-find', 'session-take'], (from, r) => this.#onRequest(from, r))
    deps.router.listen(['session-end'], (_from, m) => {
      this.#end(m.clientId).catch((err: unknown) => deps.log.warn({ err, clientId: m.clientId }, 'could not end a session taken elsewhere'))
    })
  }

  /**
   * A client passed authentication and is about to get its session (aedes restores the
   * subscriptions right after). Returns a promise when a session held elsewhere is moving here
   * (the CONNECT waits for it), undefined when there is nothing to wait for.
   */
  connecting(client: Pick<Client, 'id' | 'clean'>): Promise<void> | undefined {
    const peers = this.deps.router.peers()
    if (peers.length === 0) return undefined
    const clientId = client.id
    if (client.clean || this.deps.persistence.hasSession(clientId)) {
      for (const peer of peers) this.#discardAt(peer, clientId)
      return undefined
    }
    return this.#takeOver(clientId, peers)
  }

  async #takeOver(clientId: string, peers: readonly string[]): Promise<void> {
    const { persistence } = this.deps
    const found = await Promise.all(peers.map(async (peer) => {
      try {
        const reply = await this.deps.bus.request(peer, { t: 'session-find', clientId }, FIND_TIMEOUT_MS)
        return reply.t === 'session' && reply.subscriptions ? { peer, subscriptions: reply.subscriptions } : undefined
      } catch {
        return undefined // an unreachable hub's session is out of reach either way
      }
    }))
    const [holder, ...others] = found.filter((f) => f !== undefined)
    if (!holder) return
    for (const other of others) this.#discardAt(other.peer, clientId)
    // Interest first: from here on every message numbered for these filters reaches this hub.
    await persistence.addSubscriptions({ id: clientId }, holder.subscriptions.map(fromWire))
    try {
      const reply = await this.deps.bus.request(holder.peer, { t: 'session-take', clientId }, TAKE_TIMEOUT_MS)
      if (reply.t !== 'session') throw new Error(`holder answered ${reply.t}`)
      await persistence.importSession({ id: clientId }, {
        subscriptions: (reply.subscriptions ?? []).map(fromWire),
        packets: reply.packets.map(packetFromWire),
      })
      this.stats.taken++
      this.deps.log.info({ clientId, from: holder.peer, queued: reply.packets.length }, 'persistent session taken over from another hub')
    } catch (err) {
      this.stats.takeFailures++
      this.deps.log.warn({ err, clientId, holder: holder.peer }, 'persistent session not handed over; the client keeps its subscriptions without the queued messages')
    }
  }

  /** One-way (sent on every clean CONNECT, so no answer to wait for): the peer ends its session of that client id, if any. */
  #discardAt(peer: string, clientId: string): void {
    this.deps.bus.send(peer, { t: 'session-end', clientId })
  }

  /** A client with this id connected elsewhere: its connection here closes [MQTT-3.1.4-2]. False when this hub has neither. */
  async #closeHere(clientId: string): Promise<boolean> {
    const live = this.deps.clients()[clientId]
    if (!live && !this.deps.persistence.hasSession(clientId)) return false
    if (live) await new Promise<void>((resolve) => { live.close(() => resolve()) })
    return true
  }

  async #end(clientId: string): Promise<void> {
    if (!await this.#closeHere(clientId)) return
    await this.deps.persistence.exportSession({ id: clientId })
    this.stats.discarded++
  }

  async #onRequest(_from: string, r: SessionRequest): Promise<SessionReply> {
    const { persistence } = this.deps
    const none: SessionReply = { t: 'session', subscriptions: null, packets: [] }
    const clientId = r.clientId
    if (r.t === 'session-find') {
      if (!persistence.hasSession(clientId)) return none
      const subscriptions = await persistence.subscriptionsByClient({ id: clientId })
      return { ...none, subscriptions: subscriptions.map(toWire) }
    }
    if (!await this.#closeHere(clientId)) return none
    await this.#drainLinks()
    const session = await persistence.exportSession({ id: clientId })
    this.stats.handedOver++
    return { t: 'session', subscriptions: session.subscriptions.map(toWire), packets: session.packets.map(packetToWire) }
  }

  /** Waits until what every peer sent before now has been queued here. */
  async #drainLinks(): Promise<void> {
    const acks = await Promise.all(this.deps.router.peers().map((peer) => this.deps.router.barrier(peer, BARRIER_TIMEOUT_MS)))
    this.stats.barrierTimeouts += acks.filter((ok) => !ok).length
    // Deliveries reach the queues a few promise turns after they arrive.
    await new Promise<void>((resolve) => nextTurn(resolve))
  }
}

function toWire(s: Subscription): WireSubscription {
  return { topic: s.topic, qos: Math.min(2, Math.max(0, s.qos)) as 0 | 1 | 2 }
}

function fromWire(s: WireSubscription): Subscription {
  return { topic: s.topic, qos: s.qos }
}

function packetToWire(p: PacketLike): WirePacket {
  const payload = payloadBytes(p.payload)
  return {
    topic: p.topic ?? '', payload, qos: ((p.qos ?? 0) as 0 | 1 | 2), retain: p.retain === true,
    ...(typeof p.brokerId === 'string' ? { brokerId: p.brokerId } : {}),
    ...(typeof p.brokerCounter === 'number' ? { brokerCounter: p.brokerCounter } : {}),
  }
}

function packetFromWire(p: WirePacket): PacketLike {
  return { cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, retain: p.retain, dup: false, brokerId: p.brokerId, brokerCounter: p.brokerCounter }
}
