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
 * A hub that dies takes its members with it from the next `members` answer; watchers elsewhere
 * get no leave events for them (docs/channels.md).
 */
export class ChannelPresence {
  /** topic → connection id → member, for this hub's connections. */
  readonly #here = new Map<string, Map<string, PresenceMember>>()
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
      for (const e of events) this.#notify(e)
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
    return parts.flatMap((p) => p.part)
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
        this.deps.log.info({ err, peer }, 'a hub did not take presence events; its watchers miss them')
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
