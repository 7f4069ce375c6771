import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { ChannelPresence, type PresenceWatcher } from '../../hub/src/admin/channel-presence.js'
import type { RingQuery } from '../../hub/src/admin/ring-query.js'
import type { PresenceMember } from '../../hub/src/contract/channels.js'

type Handler = (params: Record<string, unknown>, from: string) => unknown

/**
 * Hubs whose ring queries reach each other's handlers directly (through JSON, as on the link),
 * and can be cut off: a hub that is `down` answers nothing.
 */
class FakeRing {
  readonly handlers = new Map<string, Map<string, Handler>>()
  readonly down = new Set<string>()

  query(self: string): RingQuery {
    const { handlers, down } = this
    const fake = {
      handle(query: string, handler: Handler): void {
        let mine = handlers.get(self)
        if (!mine) handlers.set(self, mine = new Map())
        mine.set(query, handler)
      },
      async ask<T>(hub: string, query: string, params: Record<string, unknown>, validate: (v: unknown) => T | undefined): Promise<T> {
        if (down.has(hub)) throw new Error(`${hub} is down`)
        const handler = handlers.get(hub)?.get(query)
        if (!handler) throw new Error(`no ${query} on ${hub}`)
        const part = validate(JSON.parse(JSON.stringify(await handler(params, self))))
        if (part === undefined) throw new Error('malformed')
        return part
      },
      async gather<T>(query: string, params: Record<string, unknown>, validate: (v: unknown) => T | undefined): Promise<Array<{ hub: string, part: T }>> {
        const out: Array<{ hub: string, part: T }> = []
        for (const hub of handlers.keys()) {
          try { out.push({ hub, part: await fake.ask(hub, query, params, validate) }) } catch { /* left out, as RingQuery does */ }
        }
        return out
      },
      failed(): void { /* RingQuery logs it; nothing to check here */ },
    }
    // The four methods ChannelPresence uses; RingQuery's private field makes the class nominal.
    return fake as unknown as RingQuery
  }
}

function hubs(ids: readonly string[]): { ring: FakeRing, presence: Map<string, ChannelPresence> } {
  const ring = new FakeRing()
  const presence = new Map<string, ChannelPresence>()
  for (const id of ids) {
    presence.set(id, new ChannelPresence({ self: id, ring: ring.query(id), peers: () => ids.filter((p) => p !== id && !ring.down.has(p)), log: silentLogger() }))
  }
  return { ring, presence }
}

function watcher(): PresenceWatcher & { events: Array<{ event: string, id: string }> } {
  const events: Array<{ event: string, id: string }> = []
  return { closed: false, events, send: (f) => { events.push({ event: f.event, id: f.member.id }) } }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))
const member = (hub: string, n: number): PresenceMember => ({ id: `${hub}:${n}`, hub })
const TOPIC = 'devices/d1/#'

describe('channel presence across hubs', () => {
  it('tells watchers that the members of a dead hub left, once, and nothing for a hub with none', async () => {
    const { presence } = hubs(['a', 'b', 'c'])
    const w = watcher()
    presence.get('a')?.watch(w, TOPIC)
    presence.get('c')?.joined(TOPIC, member('c', 1))
    presence.get('c')?.joined(TOPIC, member('c', 2))
    presence.get('c')?.joined('other/#', member('c', 3))
    presence.get('b')?.joined(TOPIC, member('b', 1))
    await turn()
    expect(w.events).toEqual([{ event: 'join', id: 'c:1' }, { event: 'join', id: 'c:2' }, { event: 'join', id: 'b:1' }])
    presence.get('a')?.hubGone('c')
    expect(w.events.slice(3)).toEqual([{ event: 'leave', id: 'c:1' }, { event: 'leave', id: 'c:2' }])
    presence.get('a')?.hubGone('c')
    presence.get('a')?.hubGone('nobody')
    expect(w.events).toHaveLength(5)
  })

  it('forgets members that left before their hub died', async () => {
    const { presence } = hubs(['a', 'c'])
    const w = watcher()
    presence.get('a')?.watch(w, TOPIC)
    presence.get('c')?.joined(TOPIC, member('c', 1))
    presence.get('c')?.joined(TOPIC, member('c', 2))
    await turn()
    presence.get('c')?.left(TOPIC, member('c', 1))
    await turn()
    presence.get('a')?.hubGone('c')
    expect(w.events).toEqual([
      { event: 'join', id: 'c:1' }, { event: 'join', id: 'c:2' }, { event: 'leave', id: 'c:1' }, { event: 'leave', id: 'c:2' },
    ])
  })

  it('learns the members a hub had before this one heard any event, from a members answer', async () => {
    const { ring, presence } = hubs(['a', 'c'])
    presence.get('c')?.joined(TOPIC, member('c', 7))
    await turn()
    // A hub that started after the join, so it heard no event: a fresh instance for a.
    const late = new ChannelPresence({ self: 'a', ring: ring.query('a'), peers: () => ['c'], log: silentLogger() })
    const w = watcher()
    late.watch(w, TOPIC)
    expect((await late.members(TOPIC)).map((m) => m.id)).toEqual(['c:7'])
    late.hubGone('c')
    expect(w.events).toEqual([{ event: 'leave', id: 'c:7' }])
  })

  it('announces the members of a hub that comes back after a false death as joins again', async () => {
    const { ring, presence } = hubs(['a', 'c'])
    const w = watcher()
    presence.get('a')?.watch(w, TOPIC)
    presence.get('c')?.joined(TOPIC, member('c', 1))
    await turn()
    ring.down.add('c')
    presence.get('a')?.hubGone('c')
    ring.down.delete('c')
    presence.get('a')?.hubBack('c')
    await turn()
    expect(w.events).toEqual([{ event: 'join', id: 'c:1' }, { event: 'leave', id: 'c:1' }, { event: 'join', id: 'c:1' }])
    // Back twice: the members it already announced are not announced again.
    presence.get('a')?.hubBack('c')
    await turn()
    expect(w.events).toHaveLength(3)
  })
})
