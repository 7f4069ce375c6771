import type { Logger } from '../base/log.js'
import { nextTurn } from '../base/next-turn.js'
import type { PresenceMember } from '../contract/channels.js'
import type { RingQuery } from './ring-query.js'

/** A presence change as hubs tell each other (and their watching connections). */
export interface PresenceEvent { topic: string, event: 'join' | 'leave', member: PresenceMember }

/** What presence needs of a connection: to be sent a frame, and whether it is gone. */
export interface PresenceWatcher {
  readonly closed: boolean
  send(frame: { op: 'presence', topic: string, event: 'join' | 'leave', member: PresenceMember }): void
}

/** Presence events per peer message at most; more wait for the next turn. */
const MAX_EVENTS_PER_MESSAGE = 1_000

/**
 * Who is joined to which channel topic (deepstream-style presence, issue 8 item 4). Each hub
 * knows its own connections' joins; `members` gathers every alive hub's through the ring query
 * (any hub answers for the whole ring), and joins and leaves are told to every peer once per
 * event-loop turn, which hands them to its connections watching that topic. The topic is the
 * join's filter as written: `devices/d1/#` and `devices/+/#` are different topics.
 *
 * A hub that dies or leaves cannot say its members left, so every other hub says it for it:
 * each keeps the other hubs' members it has heard of (from their events and from `members`
 * answers) and, when membership declares that hub dead or gone, tells its own watchers that
 * each of them left (`hubGone`). When a hub comes back (a false death), its members of watched
 * topics are asked for again and announced as joins (`hubBack`).
 */
export class ChannelPresence {
  /** topic → connection id → member, for this hub's connections. */
  readonly #here = new Map<string, Map<string, PresenceMember>>()
  /** hub → topic → member id → member: the other hubs' members this hub has heard of. */
  readonly #remote = new Map<string, Map<string, Map<string, PresenceMember>>>()
  readonly #watchers = new Map<string, Set<PresenceWatcher>>()
  #outbox: PresenceEvent[] = []
  #flushing = false

  constructor(private readonly deps: { self: string, ring: RingQuery, peers: () => readonly string[], log: Logger }) {
    deps.ring.handle('channel-presence', (params) => {
      if (typeof params.topic !== 'string') throw new Error('channel-presence needs a topic')
      return [...(this.#here.get(params.topic)?.values() ?? [])]
    })
    deps.ring.handle('channel-presence-events', (params, from) => {
      const events = Array.isArray(params.events) ? params.events.filter(isEvent) : []
      if (events.length !== (Array.isArray(params.events) ? params.events.length : -1)) deps.log.warn({ from }, 'malformed presence events from a peer; the well-formed ones are kept')
      for (const e of events) {
        if (e.member.hub !== deps.self) this.#heard(e)
        this.#notify(e)
      }
      return { ok: true }
    })
  }

  joined(topic: string, member: PresenceMember): void {
    let members = this.#here.get(topic)
    if (!members) this.#here.set(topic, members = new Map())
    if (members.has(member.id)) return
    members.set(member.id, member)
    this.#changed({ topic, event: 'join', member })
  }

  left(topic: string, member: PresenceMember): void {
    const members = this.#here.get(topic)
    if (!members?.delete(member.id)) return
    if (members.size === 0) this.#here.delete(topic)
    this.#changed({ topic, event: 'leave', member })
  }

  watch(watcher: PresenceWatcher, topic: string): void {
    let set = this.#watchers.get(topic)
    if (!set) this.#watchers.set(topic, set = new Set())
    set.add(watcher)
  }

  unwatchAll(watcher: PresenceWatcher): void {
    for (const [topic, set] of this.#watchers) {
      set.delete(watcher)
      if (set.size === 0) this.#watchers.delete(topic)
    }
  }

  /** Every alive hub's members of `topic` (a hub that does not answer in time is left out). */
  async members(topic: string): Promise<PresenceMember[]> {
    const parts = await this.deps.ring.gather('channel-presence', { topic }, (v) => Array.isArray(v) && v.every(isMember) ? v : undefined)
    for (const { hub, part } of parts) {
      if (hub === this.deps.self) continue
      // Each answer is that hub's whole list for the topic now: what it holds replaces what was heard.
      const topics = this.#remoteOf(hub)
      topics.set(topic, new Map(part.filter((m) => m.hub === hub).map((m) => [m.id, m])))
    }
    return parts.flatMap((p) => p.part)
  }

  /** Membership declared `hub` dead or gone: its members left every topic, as its watchers here hear. */
  hubGone(hub: string): void {
    const topics = this.#remote.get(hub)
    this.#remote.delete(hub)
    if (!topics) return
    for (const [topic, members] of topics) {
      for (const member of members.values()) this.#notify({ topic, event: 'leave', member })
    }
  }

  /**
   * `hub` is alive again (back after a false death, or new): its members of the topics watched
   * here are asked for and announced as joins, so watchers that heard them leave hear them back.
   */
  hubBack(hub: string): void {
    if (hub === this.deps.self) return
    for (const topic of this.#watchers.keys()) {
      this.deps.ring.ask(hub, 'channel-presence', { topic }, (v) => Array.isArray(v) && v.every(isMember) ? v : undefined).then((members) => {
        const known = this.#remote.get(hub)?.get(topic)
        for (const member of members) {
          if (member.hub !== hub || known?.has(member.id)) continue
          const event: PresenceEvent = { topic, event: 'join', member }
          this.#heard(event)
          this.#notify(event)
        }
      }, (err: unknown) => {
        this.deps.ring.failed(err, hub, 'channel-presence', `a hub back in the ring did not list its presence members of ${topic}`)
      })
    }
  }

  #remoteOf(hub: string): Map<string, Map<string, PresenceMember>> {
    let topics = this.#remote.get(hub)
    if (!topics) this.#remote.set(hub, topics = new Map())
    return topics
  }

  /** Keeps track of another hub's member from one of its events. */
  #heard(event: PresenceEvent): void {
    const topics = this.#remoteOf(event.member.hub)
    let members = topics.get(event.topic)
    if (event.event === 'join') {
      if (!members) topics.set(event.topic, members = new Map())
      members.set(event.member.id, event.member)
    } else if (members?.delete(event.member.id) && members.size === 0) {
      topics.delete(event.topic)
    }
  }

  #changed(event: PresenceEvent): void {
    this.#notify(event)
    this.#outbox.push(event)
    if (!this.#flushing) {
      this.#flushing = true
      nextTurn(() => this.#flush())
    }
  }

  /** Tells every peer this turn's events, in order (one request per peer, answered or not). */
  #flush(): void {
    this.#flushing = false
    const events = this.#outbox.splice(0, MAX_EVENTS_PER_MESSAGE)
    if (this.#outbox.length > 0) {
      this.#flushing = true
      nextTurn(() => this.#flush())
    }
    for (const peer of this.deps.peers()) {
      this.deps.ring.ask(peer, 'channel-presence-events', { events }, (v) => v).catch((err: unknown) => {
        this.deps.ring.failed(err, peer, 'channel-presence-events', 'a hub did not take presence events; its watchers miss them')
      })
    }
  }

  #notify(event: PresenceEvent): void {
    const set = this.#watchers.get(event.topic)
    if (!set) return
    for (const w of set) {
      if (w.closed) set.delete(w)
      else w.send({ op: 'presence', topic: event.topic, event: event.event, member: event.member })
    }
  }
}

function isMember(v: unknown): v is PresenceMember {
  if (typeof v !== 'object' || v === null) return false
  const m = v as Record<string, unknown>
  return typeof m.id === 'string' && typeof m.hub === 'string' && (m.user === undefined || typeof m.user === 'string')
}

function isEvent(v: unknown): v is PresenceEvent {
  if (typeof v !== 'object' || v === null) return false
  const e = v as Record<string, unknown>
  return typeof e.topic === 'string' && (e.event === 'join' || e.event === 'leave') && isMember(e.member)
}
