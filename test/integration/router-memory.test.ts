import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { topicMatches } from '../../hub/src/ring/topic-match.js'
import { MemoryBusNetwork } from '../../hub/src/routing/memory-peer-bus.js'
import type { PublishReply } from '../../hub/src/routing/messages.js'
import { Router, type Delivery, type RetainedMessage, type RetainedStore } from '../../hub/src/routing/router.js'
import { Sequencer } from '../../hub/src/routing/sequencer.js'
import { HubDb } from '../../hub/src/store/db.js'
import { TopicLog } from '../../hub/src/store/topic-log.js'

// Routers of 3 to 7 hubs on one virtual clock and an in-memory bus; each with its own SQLite
// (in memory) topic log. Ownership comes from the same Ring every hub would compute.

class MapRetained implements RetainedStore {
  readonly map = new Map<string, RetainedMessage>()
  async store(m: RetainedMessage): Promise<void> { if (m.payload.length === 0) this.map.delete(m.topic); else this.map.set(m.topic, m) }
  async matching(filters: readonly string[]): Promise<RetainedMessage[]> { return [...this.map.values()].filter((m) => filters.some((f) => topicMatches(f, m.topic))) }
}

interface TestHub { id: string, router: Router, db: HubDb, log: TopicLog, delivered: Delivery[], retained: MapRetained }

const open: HubDb[] = []
afterEach(() => { for (const db of open.splice(0)) db.close() })

/**
 * `setRing` changes every hub's view of the live ring; `setView` one hub's alone (a hub cut off
 * from the others sees them dead while they see it dead). Every hub knows all `n` hubs (dead
 * ones are remembered, as SWIM does: `knownHubs`).
 */
function ringOf(n: number): { clock: ManualClock, net: MemoryBusNetwork, hubs: Map<string, TestHub>, ids: string[], setRing: (ids: string[]) => void, setView: (id: string, ids: string[] | undefined) => void, restart: (id: string) => TestHub } {
  const clock = new ManualClock()
  const net = new MemoryBusNetwork(clock, 1)
  const ids = Array.from({ length: n }, (_, i) => `h${i + 1}`)
  let ring = new Ring(ids)
  let alive = [...ids]
  const views = new Map<string, { ring: Ring, alive: string[] }>()
  const view = (id: string): { ring: Ring, alive: string[] } => views.get(id) ?? { ring, alive }
  const hubs = new Map<string, TestHub>()
  const build = (id: string): void => {
    const db = HubDb.open({ path: ':memory:', clock, log: silentLogger(), groupCommitMs: 0 })
    open.push(db)
    const log = new TopicLog(db)
    const delivered: Delivery[] = []
    const retained = new MapRetained()
    const router = new Router({
      self: id, bus: net.bus(id), ownerOf: (key) => view(id).ring.ownerOf(key), replicasOf: (key, k) => view(id).ring.replicasOf(key, k), peers: () => view(id).alive.filter((p) => p !== id),
      knownHubs: () => n,
      sequencer: new Sequencer({ log, clock }), topicLog: log, retained, deliverLocal: (d) => { delivered.push(d) }, clock, log: silentLogger(), keyDepth: 2,
    })
    hubs.set(id, { id, router, db, log, delivered, retained })
  }
  for (const id of ids) build(id)
  // As hubs do when they see each other join: a hub takes keys over only once it knows every
  // peer's interest.
  for (const h of hubs.values()) h.router.refreshInterest()
  return {
    clock, net, hubs, ids,
    setRing: (next) => { alive = next; ring = new Ring(next) },
    setView: (id, next) => { if (next) views.set(id, { ring: new Ring(next), alive: next }); else views.delete(id) },
    // A new run of the hub on a new bus (and an empty store), as after a crash no peer saw.
    restart: (id) => {
      hub(hubs, id).router.stop()
      build(id)
      return hub(hubs, id)
    },
  }
}

/** Runs virtual time in small steps while `promise` is pending (group commit uses real turns). */
async function settle<T>(clock: ManualClock, promise: Promise<T>, limitMs = 30_000): Promise<T> {
  let done = false
  const mark = (): void => { done = true }
  promise.then(mark, mark)
  for (let t = 0; !done && t < limitMs; t++) {
    clock.advance(1)
    await new Promise((r) => setImmediate(r))
  }
  return promise
}

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t++) { clock.advance(1); await new Promise((r) => setImmediate(r)) }
}

const hub = (hubs: Map<string, TestHub>, id: string): TestHub => hubs.get(id) as TestHub

/**
 * QoS 1 publishes of `key` (topic `<key>/t`) through `ingress` (or another hub given to `send`),
 * and their answers in the order they came: the payload, or "<payload> failed".
 */
function publisher(key: string, ingress: TestHub): { acked: string[], send: (payload: string, via?: TestHub) => Promise<unknown> } {
  const acked: string[] = []
  const send = (payload: string, via = ingress): Promise<unknown> => {
    const p = via.router.publish({ topic: `${key}/t`, payload: Buffer.from(payload), qos: 1, retain: false })
    p.then(() => acked.push(payload), () => acked.push(`${payload} failed`))
    return p
  }
  return { acked, send }
}

/**
 * Three hubs; a key owned by h1 with its copy on h2, so the link h1 ↔ h3 can break without
 * touching replication; h3 subscribed to `<key>/t`.
 */
async function linkBreakRing(prefix: string): Promise<{ clock: ManualClock, net: MemoryBusNetwork, h1: TestHub, h3: TestHub, key: string }> {
  const { clock, net, hubs } = ringOf(3)
  const ring = new Ring(['h1', 'h2', 'h3'])
  let key = ''
  for (let i = 0; key === ''; i++) if (ring.ownerOf(`${prefix}${i}`) === 'h1' && ring.replicasOf(`${prefix}${i}`, 2)[1] === 'h2') key = `${prefix}${i}`
  const [h1, h3] = [hub(hubs, 'h1'), hub(hubs, 'h3')]
  await settle(clock, h3.router.subscribe(`${key}/t`))
  return { clock, net, h1, h3, key }
}

/**
 * Heals without telling the hubs their link opened again: what the next delivery's claim does
 * alone (`SentOffsets`), without the owner's resend of the last delivery (`PeerReplay.linkOpened`),
 * as when that delivery comes first.
 */
const QUIET = { announce: false }

/** Moves virtual time 1 ms at a time until `done` (checked after each turn, before time moves on). */
async function until(clock: ManualClock, done: () => boolean): Promise<void> {
  for (let t = 0; t < 1_000 && !done(); t++) { clock.advance(1); await new Promise((r) => setImmediate(r)) }
}

/**
 * m2 is lost in a link that broke; m3 arrives and shows the gap, and the link breaks again for
 * `cutMs` as h3 asks h1's log for m2; then `thenMs` pass. Returns h3.
 */
async function gapReadWhileCut(prefix: string, cutMs: number, thenMs: number): Promise<TestHub> {
  const { clock, net, h1, h3, key } = await linkBreakRing(prefix)
  const publish = (text: string): Promise<unknown> => h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false })
  await settle(clock, publish('m1'))
  // m2 leaves h1 and is lost in the link (as above).
  const sent = h1.router.stats.deliveriesSent
  const m2 = publish('m2')
  await until(clock, () => h1.router.stats.deliveriesSent !== sent)
  net.cut('h1', 'h3')
  await settle(clock, m2)
  net.heal(QUIET)
  const received = h3.router.stats.deliveriesReceived
  const m3 = publish('m3')
  await until(clock, () => h3.router.stats.deliveriesReceived !== received)
  net.cut('h1', 'h3') // every read h3 tries meanwhile times out
  await run(clock, cutMs)
  net.heal(QUIET)
  await settle(clock, m3)
  await run(clock, thenMs)
  return h3
}

/**
 * m1 and m2, the first messages of the key for h3, leave h1, and the link breaks before they
 * arrive: h3 has no cursor for the key.
 */
async function firstTwoLost(prefix: string): Promise<{ clock: ManualClock, net: MemoryBusNetwork, h3: TestHub, publish: (text: string) => Promise<unknown> }> {
  const { clock, net, h1, h3, key } = await linkBreakRing(prefix)
  const publish = (text: string): Promise<unknown> => h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false })
  const sent = h1.router.stats.deliveriesSent
  const first = [publish('m1'), publish('m2')]
  await until(clock, () => h1.router.stats.deliveriesSent === sent + 2)
  net.cut('h1', 'h3')
  await settle(clock, Promise.all(first))
  expect(h3.delivered, 'both lost in the link').toEqual([])
  return { clock, net, h3, publish }
}

/** A key owned by `owner` in `ring`. */
function keyOwnedBy(ring: Ring, owner: string, prefix = 'devices/d'): string {
  for (let i = 0; ; i++) if (ring.ownerOf(`${prefix}${i}`) === owner) return `${prefix}${i}`
}

describe('Router over an in-memory bus (virtual time)', () => {
  it('forwards a publish to the owner, which logs it before acking and delivers it once to the interested hub', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h2')
    hub(hubs, 'h3').router.subscribe(`${key}/#`)
    hub(hubs, 'h3').router.subscribe(`${key}/#`) // a second local subscriber: still one interest
    await run(clock, 5)
    const offset = await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${key}/temp`, payload: Buffer.from('21.5'), qos: 1, retain: false }))
    expect(offset.seq).toBe(1)
    expect(hub(hubs, 'h2').log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['21.5'])
    await run(clock, 5)
    expect(hub(hubs, 'h3').delivered.map((d) => [d.topic, d.payload.toString(), d.epoch, d.seq])).toEqual([[`${key}/temp`, '21.5', offset.epoch, 1]])
    expect(hub(hubs, 'h1').delivered).toEqual([]) // no interest there
    expect(hub(hubs, 'h2').router.stats.deliveriesSent).toBe(1)
  })

  it('keeps one order per key for publishes from every hub, as every subscriber sees it', async () => {
    const { clock, hubs, ids } = ringOf(5)
    const key = keyOwnedBy(new Ring(ids), 'h4')
    for (const id of ids) hub(hubs, id).router.subscribe('devices/#')
    await run(clock, 5)
    const sends = Array.from({ length: 100 }, (_, i) => hub(hubs, ids[i % ids.length] as string).router.publish({ topic: `${key}/n`, payload: Buffer.from(String(i)), qos: 1, retain: false }))
    await settle(clock, Promise.all(sends))
    await run(clock, 5)
    const logged = hub(hubs, 'h4').log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())
    expect(logged).toHaveLength(100)
    for (const id of ids) {
      const seen = hub(hubs, id).delivered.filter((d) => d.key === key)
      expect(seen.map((d) => d.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      expect(seen.map((d) => d.payload.toString())).toEqual(logged)
    }
  })

  it('sends messages of many keys to a hub with a global filter, each from its own owner', async () => {
    const { clock, hubs, ids } = ringOf(4)
    hub(hubs, 'h1').router.subscribe('devices/+/temp')
    await run(clock, 5)
    await settle(clock, Promise.all(Array.from({ length: 40 }, (_, i) => hub(hubs, 'h2').router.publish({ topic: `devices/d${i}/temp`, payload: Buffer.from('x'), qos: 0, retain: false }))))
    await settle(clock, hub(hubs, 'h2').router.publish({ topic: 'devices/d1/humidity', payload: Buffer.from('y'), qos: 0, retain: false }))
    await run(clock, 5)
    // A hub also hands its subscribers every message of the keys it owns; aedes filters those.
    const got = hub(hubs, 'h1').delivered.filter((d) => topicMatches('devices/+/temp', d.topic))
    expect(got.map((d) => d.topic).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `devices/d${i}/temp`).sort())
    const owners = new Set(got.map((d) => new Ring(ids).ownerOf(d.key)))
    expect(owners.size).toBeGreaterThan(2)
  })

  it('serves retained messages from the owner (keyed filter) and from every hub (global filter)', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const k2 = keyOwnedBy(ring, 'h2')
    const k3 = keyOwnedBy(ring, 'h3')
    await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${k2}/state`, payload: Buffer.from('on'), qos: 1, retain: true }))
    await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${k3}/state`, payload: Buffer.from('off'), qos: 1, retain: true }))
    expect([...hub(hubs, 'h2').retained.map.keys()]).toEqual([`${k2}/state`])
    const keyed = await settle(clock, hub(hubs, 'h1').router.retainedFor([`${k2}/#`]))
    expect(keyed.map((m) => [m.topic, m.payload.toString()])).toEqual([[`${k2}/state`, 'on']])
    const global = await settle(clock, hub(hubs, 'h1').router.retainedFor(['devices/+/state']))
    expect(global.map((m) => m.topic).sort()).toEqual([`${k2}/state`, `${k3}/state`].sort())
  })

  it('refuses to sequence a key it does not own, and the forward follows ownership to the new owner', async () => {
    const { clock, net, hubs, ids, setRing } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h3')
    await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${key}/a`, payload: Buffer.from('1'), qos: 1, retain: false }))
    // h3 crashes; until the ring drops it, forwards fail and are retried.
    net.crash('h3')
    const pending = hub(hubs, 'h1').router.publish({ topic: `${key}/a`, payload: Buffer.from('2'), qos: 1, retain: false })
    await run(clock, 200)
    setRing(['h1', 'h2'])
    for (const id of ['h1', 'h2']) hub(hubs, id).router.ownershipChanged()
    const offset = await settle(clock, pending)
    const newOwner = new Ring(['h1', 'h2']).ownerOf(key) as string
    // The new owner was h3's replica: it holds '1' as h3 numbered it, and numbers '2' in a new,
    // higher epoch (so no (epoch, seq) is ever given twice).
    const log = hub(hubs, newOwner).log.since(key, { epoch: 0, seq: 0 })
    expect(log.map((e) => e.payload.toString())).toEqual(['1', '2'])
    expect(offset).toEqual({ epoch: (log[0]?.epoch as number) + 1, seq: 1 })
    expect(hub(hubs, 'h1').router.stats.forwardRetries).toBeGreaterThan(0)
    // A hub that is not the owner answers not-owner, and numbers nothing.
    const other = newOwner === 'h1' ? 'h2' : 'h1'
    const reply = await settle(clock, net.bus('probe').request(other, { t: 'publish', id: 'probe:1', topic: `${key}/a`, payload: Buffer.from('3'), qos: 1, retain: false }, 1_000))
    expect(reply).toEqual({ t: 'not-owner', key })
    expect(hub(hubs, other).log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).not.toContain('3')
  })

  it('numbers a retried forward with a known id only once', async () => {
    const { clock, net, hubs, ids } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h2')
    const probe = net.bus('probe')
    const request = { t: 'publish' as const, id: 'probe:7', topic: `${key}/x`, payload: Buffer.from('once'), qos: 1 as const, retain: false }
    const first = await settle(clock, probe.request('h2', request, 1_000))
    const again = await settle(clock, probe.request('h2', request, 1_000))
    // The first answer names the replica that confirms to the sender; the retry's comes once the
    // owner has heard from its replicas itself, so it names none.
    expect(first).toMatchObject({ t: 'published', confirmBy: [expect.any(String)] })
    expect(again).toEqual({ t: 'published', epoch: (first as { epoch: number }).epoch, seq: (first as { seq: number }).seq })
    expect(hub(hubs, 'h2').log.size(key)).toBe(1)
    expect(hub(hubs, 'h2').router.stats.duplicates).toBe(1)
  })
  it('acknowledges a QoS 1 message only once the successor of the owner holds a copy', async () => {
    const { clock, hubs, ids } = ringOf(4)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const successor = ring.replicasOf(key, 2)[1] as string
    await settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/t`, payload: Buffer.from('kept twice'), qos: 1, retain: false }))
    expect(hub(hubs, successor).log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['kept twice'])
    const others = ids.filter((id) => id !== 'h1' && id !== successor)
    for (const id of others) expect(hub(hubs, id).log.size(key)).toBe(0)
  })

  it('acknowledges a forward once the replica confirmed to the ingress hub; without that word, only after a retry the owner answers once its replicas have', async () => {
    const { clock, net, hubs, ids } = ringOf(4)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    const ingress = ids.find((id) => id !== 'h1' && id !== replica) as string
    const router = hub(hubs, ingress).router
    // Confirmed by the replica itself: no retry, well within a request's deadline (2 s).
    const startedMs = clock.now()
    const first = await settle(clock, router.publish({ topic: `${key}/t`, payload: Buffer.from('one'), qos: 1, retain: false }))
    expect(clock.now() - startedMs).toBeLessThan(100)
    expect(router.stats.forwardRetries).toBe(0)
    // The replica's word cannot reach the ingress hub: it waits a request's deadline, retries,
    // and the owner, knowing the id, answers with the same offset once its replica has answered it.
    net.cut(replica, ingress)
    const cutMs = clock.now()
    const second = await settle(clock, router.publish({ topic: `${key}/t`, payload: Buffer.from('two'), qos: 1, retain: false }))
    expect(clock.now() - cutMs).toBeGreaterThanOrEqual(2_000)
    expect(router.stats.forwardRetries).toBe(1)
    expect(hub(hubs, 'h1').router.stats.duplicates).toBe(1)
    expect(second).toEqual({ epoch: first.epoch, seq: first.seq + 1 })
    expect(hub(hubs, 'h1').log.size(key)).toBe(2)
    expect(hub(hubs, replica).log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['one', 'two'])
  })

  it('sends a live hub the deliveries it could not take (full send queue) from the log, in order, before the key\'s new ones', async () => {
    const { clock, net, hubs, ids } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h1')
    const subscriber = hub(hubs, 'h2')
    await settle(clock, subscriber.router.subscribe(`${key}/#`))
    const owner = hub(hubs, 'h1').router
    const publish = (n: number): Promise<unknown> => settle(clock, owner.publish({ topic: `${key}/t`, payload: Buffer.from(String(n)), qos: 1, retain: false }))
    await publish(0)
    net.refuse('h1', 'h2')
    // Acknowledged all the same (deliveries are one-way); h2 gets none of them yet.
    for (let n = 1; n <= 4; n++) await publish(n)
    await run(clock, 50)
    const got = (): string[] => subscriber.delivered.filter((d) => d.key === key).map((d) => d.payload.toString())
    expect(got()).toEqual(['0'])
    expect(owner.stats.deliveriesDropped).toBe(1) // the first; the later ones wait behind it
    net.accept()
    await publish(5) // numbered while h2 is still owed 1-4: it must not overtake them
    await run(clock, 300)
    expect(got()).toEqual(['0', '1', '2', '3', '4', '5'])
    expect(owner.stats.deliveriesResent).toBe(5)
    await publish(6)
    await run(clock, 20)
    expect(got()).toEqual(['0', '1', '2', '3', '4', '5', '6'])
    expect(owner.stats.deliveriesResent).toBe(5)
  })

  it('hands a key over when a hub joins: retained messages and the log tail move, and the new owner numbers in a higher epoch', async () => {
    const { clock, hubs, ids, setRing } = ringOf(4)
    const before = new Ring(['h1', 'h2', 'h3'])
    const after = new Ring(['h1', 'h2', 'h3', 'h4'])
    setRing(['h1', 'h2', 'h3'])
    // A key that moves to h4 when it joins.
    let key = ''
    for (let i = 0; key === ''; i++) if (after.ownerOf(`devices/m${i}`) === 'h4') key = `devices/m${i}`
    const oldOwner = before.ownerOf(key) as string
    const first = await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${key}/state`, payload: Buffer.from('v1'), qos: 1, retain: true }))
    setRing(ids)
    for (const id of ids) hub(hubs, id).router.ownershipChanged()
    await run(clock, 20)
    expect(hub(hubs, oldOwner).router.stats.handoffsSent).toBe(1)
    const retained = await settle(clock, hub(hubs, 'h2').router.retainedFor([`${key}/#`]))
    expect(retained.map((m) => [m.topic, m.payload.toString()])).toEqual([[`${key}/state`, 'v1']])
    const next = await settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/state`, payload: Buffer.from('v2'), qos: 1, retain: true }))
    expect(next.epoch).toBeGreaterThan(first.epoch)
    expect(next.seq).toBe(1)
    // The log tail came along: a resume read at the new owner sees both epochs, in order.
    expect(hub(hubs, 'h4').log.since(key, { epoch: 0, seq: 0 }).map((e) => [e.epoch, e.payload.toString()])).toEqual([[first.epoch, 'v1'], [next.epoch, 'v2']])
  })

  it('reads from an offset before the new owner\'s handoff tail: the older entries come from the earlier owner\'s log, in order, once each; without it, the owner\'s answer shows the gap', async () => {
    const { clock, net, hubs, ids, setRing } = ringOf(4)
    const before = new Ring(['h1', 'h2', 'h3'])
    const after = new Ring(['h1', 'h2', 'h3', 'h4'])
    setRing(['h1', 'h2', 'h3'])
    const key = keyOwnedBy(after, 'h4', 'devices/t')
    const [oldOwnerId, oldReplica] = before.replicasOf(key, 2) as [string, string]
    const oldOwner = hub(hubs, oldOwnerId)
    // More than a handoff tail holds (1000 entries): the first 500 stay with the earlier owner and its replica.
    const sent = Array.from({ length: 1_500 }, (_, i) => oldOwner.router.publish({ topic: `${key}/t`, payload: Buffer.from(`m${i + 1}`), qos: 1, retain: false }))
    const first = await settle(clock, Promise.all(sent))
    setRing(ids)
    for (const id of ids) hub(hubs, id).router.ownershipChanged()
    await run(clock, 50)
    const next = await settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/t`, payload: Buffer.from('m1501'), qos: 1, retain: false }))
    const h4 = hub(hubs, 'h4')
    const tailStart = { epoch: first[500]?.epoch ?? 0, seq: 501 }
    expect(h4.log.oldest(key), 'the new owner holds the tail only').toEqual(tailStart)
    // Two pages from the start, read at the hub that holds none of it (neither owner nor copy).
    const readerId = ids.find((id) => id !== 'h4' && id !== oldOwnerId && id !== oldReplica) as string
    const reader = hub(hubs, readerId).router
    const page1 = await settle(clock, reader.logSince(key, { epoch: 0, seq: 0 }, 1_000))
    expect(page1.owner).toBe('h4')
    expect(page1.oldest).toEqual({ epoch: first[0]?.epoch, seq: 1 })
    expect(page1.entries.map((e) => e.payload.toString())).toEqual(Array.from({ length: 1_000 }, (_, i) => `m${i + 1}`))
    const last = page1.entries.at(-1) as { epoch: number, seq: number }
    const page2 = await settle(clock, reader.logSince(key, { epoch: last.epoch, seq: last.seq }, 1_000))
    expect(page2.entries.map((e) => e.payload.toString())).toEqual(Array.from({ length: 501 }, (_, i) => `m${i + 1_001}`))
    expect(page2.entries.at(-1)).toMatchObject({ epoch: next.epoch, seq: next.seq })
    expect(reader.stats.olderLogReads).toBe(1)
    // From inside the tail, the owner's log alone answers.
    const inside = await settle(clock, reader.logSince(key, { epoch: tailStart.epoch, seq: 601 }, 3))
    expect(inside.entries.map((e) => e.payload.toString())).toEqual(['m602', 'm603', 'm604'])
    expect(reader.stats.olderLogReads).toBe(1)
    // The hubs holding the older entries do not answer: the owner's answer, whose oldest shows what is missing.
    net.cut(readerId, oldOwnerId)
    net.cut(readerId, oldReplica)
    const cut = await settle(clock, reader.logSince(key, { epoch: 0, seq: 0 }, 1_000))
    expect(cut.oldest).toEqual(tailStart)
    expect(cut.entries.map((e) => e.payload.toString())).toEqual(Array.from({ length: 1_001 }, (_, i) => `m${i + 501}`).slice(0, 1_000))
    expect(reader.stats.olderLogReadFailures).toBe(2)
    expect(reader.stats.olderLogReads).toBe(1)
    // What the others are asked: up to and including the owner's oldest entry (`through`).
    const probe = net.bus('probe')
    const asked = await settle(clock, probe.request(oldOwnerId, { t: 'log', key, epoch: 0, seq: 0, limit: 1_000, through: [tailStart.epoch, tailStart.seq] }, 1_000))
    expect(asked.t === 'log-entries' && asked.entries.map((e) => e.seq)).toEqual(Array.from({ length: 501 }, (_, i) => i + 1))
  })

  it('reports replication lag: copies in flight and the age of the oldest, back to 0 once confirmed', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const owner = hub(hubs, 'h1').router
    expect(owner.replication()).toEqual({ inflight: 0, lagMs: 0 })
    const published = owner.publish({ topic: `${key}/t`, payload: Buffer.from('x'), qos: 1, retain: false })
    // Each frame takes 1 virtual ms: the copy is out, unconfirmed, for a round trip.
    let maxInflight = 0
    let maxLagMs = 0
    let done = false
    void published.then(() => { done = true })
    for (let t = 0; t < 1_000 && !done; t++) {
      await new Promise((r) => setImmediate(r))
      const { inflight, lagMs } = owner.replication()
      maxInflight = Math.max(maxInflight, inflight)
      maxLagMs = Math.max(maxLagMs, lagMs)
      clock.advance(1)
    }
    await settle(clock, published)
    expect(maxInflight).toBe(1) // replication factor 2: one successor
    expect(maxLagMs).toBeGreaterThanOrEqual(1)
    expect(owner.replication()).toEqual({ inflight: 0, lagMs: 0 })
  })

  it('gives a subscriber hub what a live owner wrote into a link that broke and reconnected, as soon as the key\'s next message shows the gap, in order', async () => {
    const { clock, net, h1, h3, key } = await linkBreakRing('devices/l') // h3 wants one topic of the key
    const publish = (topic: string, text: string): Promise<unknown> => settle(clock, h1.router.publish({ topic: `${key}/${topic}`, payload: Buffer.from(text), qos: 1, retain: false }))
    await publish('t', 'm1')
    await publish('other', 'x1') // not for h3: the next delivery names m1 as the one before it
    await publish('t', 'm2')
    await run(clock, 5)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2'])
    // m3 leaves h1 (queued on the link), and the link breaks before it arrives; h1 acknowledged it.
    const sent = h1.router.stats.deliveriesSent
    const m3 = h1.router.publish({ topic: `${key}/t`, payload: Buffer.from('m3'), qos: 1, retain: false })
    // (Time moves only while it has not left: it arrives 1 ms after.)
    await until(clock, () => h1.router.stats.deliveriesSent !== sent)
    net.cut('h1', 'h3')
    await settle(clock, m3)
    net.heal(QUIET) // reconnected: nobody was declared dead, no delivery was refused by the link
    await run(clock, 5)
    expect(h3.delivered.map((d) => d.payload.toString()), 'm3 lost in the link').toEqual(['m1', 'm2'])
    await publish('t', 'm4')
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3', 'm4'])
    // One read, for m3: m2 named m1 as the delivery before it (x1 was not for h3), so no read then.
    expect(h3.router.deliveryStats).toMatchObject({ catchUps: 1, caughtUp: 1, catchUpFailures: 0 })
    expect(h1.router.stats.deliveriesDropped, 'the link took every delivery: no replay from the owner').toBe(0)
  })

  it('reads a gap again when the link breaks once more during the read', async () => {
    const h3 = await gapReadWhileCut('devices/g', 50, 10_000) // the first read times out; the next one goes through
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    expect(h3.router.deliveryStats).toMatchObject({ caughtUp: 1, catchUpFailures: 0 })
    expect(h3.router.stats.catchUpReadRetries).toBeGreaterThanOrEqual(1)
  })

  it('keeps reading a gap while the link stays down as long as a redial may take (9 s), the sender still in the ring', async () => {
    const h3 = await gapReadWhileCut('devices/w', 9_000, 15_000)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    expect(h3.router.deliveryStats).toMatchObject({ caughtUp: 1, catchUpFailures: 0 })
    expect(h3.router.stats.catchUpReadRetries).toBeGreaterThanOrEqual(4)
  })

  it('gives a subscriber hub what an owner resent from its log into a link that broke again: the next live delivery names the resent one before it', async () => {
    const { clock, net, h1, h3, key } = await linkBreakRing('devices/r')
    const publish = (text: string): Promise<unknown> => settle(clock, h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false }))
    await publish('m1')
    net.cut('h1', 'h3') // down: the link refuses m2, so h1 owes it to h3 and resends it from its log
    await publish('m2')
    expect(h1.router.stats.deliveriesDropped).toBe(1)
    net.heal(QUIET)
    // The resend leaves (every 100 ms while owed), and the link breaks again before it arrives.
    await until(clock, () => h1.router.stats.deliveriesResent !== 0)
    net.cut('h1', 'h3')
    await run(clock, 5)
    net.heal(QUIET)
    expect(h3.delivered.map((d) => d.payload.toString()), 'the resent m2 lost too').toEqual(['m1'])
    await publish('m3')
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    expect(h3.router.deliveryStats).toMatchObject({ catchUps: 1, caughtUp: 1 })
  })

  it('gives a subscriber hub the last deliveries of a key that then goes quiet, lost in a link that broke: sent again when the link opens again', async () => {
    const { clock, net, h1, h3, key } = await linkBreakRing('devices/q')
    const publish = (text: string): Promise<unknown> => h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false })
    await settle(clock, publish('m1'))
    // m2 and m3 leave h1 and the link breaks before they arrive; nothing more is published.
    const sent = h1.router.stats.deliveriesSent
    const later = [publish('m2'), publish('m3')]
    await until(clock, () => h1.router.stats.deliveriesSent === sent + 2)
    net.cut('h1', 'h3')
    await settle(clock, Promise.all(later))
    const lost = 3 - h3.delivered.length
    expect(lost, 'at least m3 lost in the link').toBeGreaterThanOrEqual(1)
    net.heal() // the link opens again, to the same run of h3
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    expect(h1.router.stats.tailsResent).toBe(1)
    // m3 went again naming m2: with m2 lost too, h3 read it from h1's log first.
    expect(h3.router.deliveryStats).toMatchObject({ caughtUp: lost - 1, catchUpFailures: 0 })
    expect(h1.router.stats.deliveriesDropped, 'the link took every delivery: no replay from the owner').toBe(0)
  })

  it('gives a subscriber hub the first deliveries of a key, all lost in a link that broke, when the link opens again: the owner says where they began', async () => {
    const { clock, net, h3 } = await firstTwoLost('devices/f')
    net.heal() // the link opens again, to the same run of h3: m2 goes again, claiming m1
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2'])
    expect(h3.router.deliveryStats).toMatchObject({ cursorsFromBegan: 1, caughtUp: 1, claimsWithoutCursor: 0, catchUpFailures: 0 })
  })

  it('gives a subscriber hub the first deliveries of a key, all lost in a link that broke, before the key\'s next one: asked, the owner says where they began', async () => {
    const { clock, net, h3, publish } = await firstTwoLost('devices/v')
    net.heal(QUIET) // the next delivery alone shows the loss: m3 claims m2
    await settle(clock, publish('m3'))
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    expect(h3.router.deliveryStats).toMatchObject({ cursorsFromBegan: 1, caughtUp: 2, claimsWithoutCursor: 0, catchUpFailures: 0 })
  })

  it('asks nothing of a restarted subscriber hub\'s run before: the owner drops what it sent that run when a link opens to the new one', async () => {
    const { clock, hubs, restart } = ringOf(3)
    const ring = new Ring(['h1', 'h2', 'h3'])
    const key = keyOwnedBy(ring, 'h1', 'devices/s')
    const h1 = hub(hubs, 'h1')
    const publish = (text: string): Promise<unknown> => settle(clock, h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false }))
    await settle(clock, hub(hubs, 'h3').router.subscribe(`${key}/t`))
    await publish('m1')
    await publish('m2')
    await run(clock, 5)
    expect(hub(hubs, 'h3').delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2'])
    const h3 = restart('h3')
    await run(clock, 5) // the links to the new run open
    await settle(clock, h3.router.subscribe(`${key}/t`))
    await publish('m3')
    await run(clock, 20)
    // Its first delivery to the new run claims nothing: m1 and m2 went to the run before.
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m3'])
    expect(h3.router.deliveryStats).toMatchObject({ cursorsFromBegan: 0, claimsWithoutCursor: 0, caughtUp: 0 })
  })

  it('sends nothing twice to a subscriber hub whose link came back with nothing lost', async () => {
    const { clock, net, h1, h3, key } = await linkBreakRing('devices/n')
    for (const text of ['m1', 'm2']) await settle(clock, h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false }))
    await run(clock, 5)
    net.cut('h1', 'h3')
    await run(clock, 5)
    net.heal()
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2'])
    expect(h1.router.stats.tailsResent).toBe(1)
    expect(h3.router.deliveryStats).toMatchObject({ repeatsSkipped: 1, catchUps: 0 })
  })

  it('gives a subscriber hub what a dead owner acknowledged but never sent it, from the new owner\'s replica copies, in order', async () => {
    const { clock, net, hubs, setRing } = ringOf(3)
    const before = new Ring(['h1', 'h2', 'h3'])
    const after = new Ring(['h2', 'h3'])
    let key = ''
    for (let i = 0; key === ''; i++) {
      const k = `devices/x${i}`
      if (before.ownerOf(k) === 'h1' && before.replicasOf(k, 2)[1] === 'h2' && after.ownerOf(k) === 'h2') key = k
    }
    const h3 = hub(hubs, 'h3')
    await settle(clock, h3.router.subscribe(`${key}/#`))
    const publish = (via: string, text: string): Promise<unknown> => settle(clock, hub(hubs, via).router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false }))
    await publish('h1', 'm1')
    await run(clock, 5)
    // h1's deliveries to h3 stop arriving (lost in its socket); h1 still acknowledges, h2 has copies.
    net.cut('h1', 'h3')
    await publish('h1', 'm2')
    await publish('h1', 'm3')
    await run(clock, 5)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1'])
    // h1 dies: h2 owns the key now and numbers the next message in a new epoch.
    setRing(['h2', 'h3'])
    for (const id of ['h2', 'h3']) { hub(hubs, id).router.peerGone('h1'); hub(hubs, id).router.ownershipChanged() }
    await run(clock, 20)
    // Nothing more published: the ownership change alone brings the missing messages.
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3'])
    await publish('h3', 'm4')
    await run(clock, 20)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(h3.router.deliveryStats).toMatchObject({ caughtUp: 2, catchUpFailures: 0 })
  })

  it('sends a hub that was declared dead, once it is back, what it missed meanwhile, before anything newer', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const h1 = hub(hubs, 'h1')
    const h3 = hub(hubs, 'h3')
    await settle(clock, h3.router.subscribe(`${key}/#`))
    const publish = (text: string): Promise<unknown> => settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false }))
    await publish('m1')
    await run(clock, 5)
    // h1 (and h2) count h3 as dead for a while: nothing goes to it; it never knew.
    h1.router.peerGone('h3')
    await publish('m2')
    await publish('m3')
    await run(clock, 5)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1'])
    h1.router.peerBack('h3')
    await publish('m4')
    await run(clock, 10)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(h1.router.stats.replayedToReturningPeers).toBe(2)
  })

  it('an owner whose replica knows a newer epoch of the key (it was paused past its death) stops numbering it, takes it over again above that epoch, and acknowledges only then', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    const h1 = hub(hubs, 'h1')
    const first = await settle(clock, h1.router.publish({ topic: `${key}/t`, payload: Buffer.from('m1'), qos: 1, retain: false })) as { epoch: number, seq: number }
    // Meanwhile (h1 stopped), the others numbered the key in the next epoch; the replica knows it.
    await settle(clock, hub(hubs, replica).log.noteEpoch(key, first.epoch + 1))
    const second = await settle(clock, h1.router.publish({ topic: `${key}/t`, payload: Buffer.from('m2'), qos: 1, retain: false })) as { epoch: number, seq: number }
    expect(h1.router.stats.superseded).toBe(1)
    expect(second).toEqual({ epoch: first.epoch + 2, seq: 1 })
    // The replica holds m2 as acknowledged, in the new epoch; the copy in the stale epoch was refused.
    const copies = hub(hubs, replica).log.since(key, { epoch: 0, seq: 0 }).map((e) => `${e.epoch}:${e.seq}:${e.payload.toString()}`)
    expect(copies).toEqual([`${first.epoch}:1:m1`, `${first.epoch + 2}:1:m2`])
  })

  it.each([
    { path: 'forwarded', ingress: 'other' },
    { path: 'local', ingress: 'h1' },
  ])('numbers the retry of a message whose copies failed ahead of the key\'s later messages, when the owner takes the key over again meanwhile ($path)', async ({ ingress }) => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    // Forwarded: from the hub that is neither owner nor replica.
    const from = ingress === 'other' ? ids.find((id) => id !== 'h1' && id !== replica) as string : ingress
    const h1 = hub(hubs, 'h1')
    const first = await settle(clock, hub(hubs, from).router.publish({ topic: `${key}/t`, payload: Buffer.from('m0'), qos: 1, retain: false }))
    // The replica knows a newer epoch (h1 was paused past its death): m1's copy is refused and h1
    // gives the key up; m2, published after that but before m1's retry, makes h1 take it over again.
    await settle(clock, hub(hubs, replica).log.noteEpoch(key, first.epoch + 1))
    const { acked, send } = publisher(key, hub(hubs, from))
    const m1 = send('m1')
    for (let t = 0; t < 1_000 && h1.router.stats.superseded === 0; t++) await run(clock, 1)
    expect(h1.router.stats.superseded).toBe(1)
    await settle(clock, Promise.all([m1, send('m2')]))
    expect([...acked].sort(), 'both acknowledged (their replicas\' confirmations may come in either order)').toEqual(['m1', 'm2'])
    // m1 was numbered once in the superseded epoch (never acknowledged), then again in the new one, ahead of m2.
    const renumbered = h1.log.since(key, { epoch: first.epoch, seq: Number.MAX_SAFE_INTEGER }).map((e) => e.payload.toString())
    expect(renumbered).toEqual(['m1', 'm2'])
    expect(h1.router.stats.heldForRetries, 'm2 waited until m1\'s retry was numbered').toBeGreaterThan(0)
  })

  it.each([
    // m2 from the owner's own clients reaches it between m1's failure and m1's retry (the ingress
    // backs off 25 ms): only the kept place orders them (fails if a move drops it).
    { path: 'forwarded', ingress: 'other', m2: 'h1' },
    // m1's retry starts at the ring change, ahead of m2: kept place or not, m2 waits behind the
    // retry being answered (`RetryHolds.enter`).
    { path: 'local', ingress: 'h1', m2: 'h1' },
  ])('numbers the retry of a message whose copies failed ahead of a later message when the key moved away and back ($path)', async ({ ingress, m2 }) => {
    const { clock, hubs, ids, setView } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    const from = ingress === 'other' ? ids.find((id) => id !== 'h1' && id !== replica) as string : ingress
    const h1 = hub(hubs, 'h1')
    const first = await settle(clock, hub(hubs, from).router.publish({ topic: `${key}/t`, payload: Buffer.from('m0'), qos: 1, retain: false }))
    await settle(clock, hub(hubs, replica).log.noteEpoch(key, first.epoch + 1))
    const { acked, send } = publisher(key, hub(hubs, from))
    const m1 = send('m1')
    // m1 is numbered in the superseded epoch, its copy refused, and its place kept for its retry.
    for (let t = 0; t < 1_000 && h1.router.stats.retriesKeptFirst === 0; t++) await run(clock, 1)
    expect(h1.router.stats.retriesKeptFirst).toBe(1)
    // h1 sees the key move to another hub and back within one turn (two hubs came back from the
    // dead a few ms apart, as at the heal of a partition): the kept place must survive it.
    setView('h1', ids.filter((id) => id !== 'h1'))
    h1.router.ownershipChanged()
    setView('h1', undefined)
    h1.router.ownershipChanged()
    await settle(clock, Promise.all([m1, send('m2', hub(hubs, m2))]))
    expect([...acked].sort()).toEqual(['m1', 'm2'])
    const renumbered = h1.log.since(key, { epoch: first.epoch, seq: Number.MAX_SAFE_INTEGER }).map((e) => e.payload.toString())
    expect(renumbered, 'm1 numbered again ahead of m2').toEqual(['m1', 'm2'])
  })

  it('numbers the retry of a message whose copies failed ahead of a later message sent with it, when its kept place is gone (its ingress was seen dead and back)', async () => {
    const { clock, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    const from = ids.find((id) => id !== 'h1' && id !== replica) as string
    const h1 = hub(hubs, 'h1')
    const ingress = hub(hubs, from)
    const first = await settle(clock, ingress.router.publish({ topic: `${key}/t`, payload: Buffer.from('m0'), qos: 1, retain: false }))
    await settle(clock, hub(hubs, replica).log.noteEpoch(key, first.epoch + 1))
    const { acked, send } = publisher(key, ingress)
    const m1 = send('m1')
    for (let t = 0; t < 1_000 && h1.router.stats.retriesKeptFirst === 0; t++) await run(clock, 1)
    expect(h1.router.stats.retriesKeptFirst).toBe(1)
    // The ingress hears that m1's copies failed and backs off (25 ms) before its retry.
    await run(clock, 3)
    // h1 sees the ingress die and come back (a heal): the place kept for its retry is dropped.
    h1.router.peerGone(from)
    h1.router.peerBack(from)
    // m2 waits behind m1 at the ingress; both go in one batch when the backoff ends, m1 first.
    const retriesBefore = ingress.router.stats.forwardRetries
    await settle(clock, Promise.all([m1, send('m2')]))
    expect(ingress.router.stats.forwardRetries - retriesBefore, 'one retry, of m1, then m2 with it').toBe(1)
    expect([...acked].sort()).toEqual(['m1', 'm2'])
    const renumbered = h1.log.since(key, { epoch: first.epoch, seq: Number.MAX_SAFE_INTEGER }).map((e) => e.payload.toString())
    expect(renumbered, 'm1 numbered again ahead of m2').toEqual(['m1', 'm2'])
  })

  it('a replica refusing a batch of copies (a key of it has moved in its view) keeps the copies of the keys it agrees on: no hole in its log', async () => {
    const { clock, hubs, ids, setView } = ringOf(3)
    const full = new Ring(ids)
    // Two keys of h1 with the same replica; in that replica's view a fourth hub has come back and
    // owns one of them (it saw the hub return before h1 did, as at a heal).
    const withH4 = new Ring([...ids, 'h4'])
    let stays: string | undefined
    let moves: string | undefined
    for (let i = 0; !(stays && moves); i++) {
      const key = `devices/b${i}`
      if (full.ownerOf(key) !== 'h1' || full.replicasOf(key, 2)[1] !== 'h2') continue
      if (withH4.ownerOf(key) === 'h1') stays ??= key
      else moves ??= key
    }
    const h1 = hub(hubs, 'h1')
    const replica = hub(hubs, 'h2')
    const publish = (key: string, payload: string): Promise<unknown> => h1.router.publish({ topic: `${key}/t`, payload: Buffer.from(payload), qos: 1, retain: false })
    await settle(clock, Promise.all([publish(stays as string, 's0'), publish(moves as string, 'm0')]))
    setView('h2', [...ids, 'h4'])
    // One turn, one batch of copies to h2: refused for the moved key.
    const answered: string[] = []
    for (const [key, payload] of [[stays, 's1'], [moves, 'm1']] as const) publish(key as string, payload).then(() => answered.push(payload), () => answered.push(`${payload} failed`))
    await run(clock, 20)
    expect(h1.router.stats.replicaFailures, 'the batch was refused').toBeGreaterThan(0)
    expect(answered, 'neither acknowledged yet (the batch failed)').toEqual([])
    expect(replica.log.since(stays as string, { epoch: 0, seq: 0 }).map((e) => e.payload.toString()), 'kept: the owner is the same in both views').toEqual(['s0', 's1'])
    expect(replica.log.since(moves as string, { epoch: 0, seq: 0 }).map((e) => e.payload.toString()), 'refused: another owner in its view').toEqual(['m0'])
    setView('h2', undefined)
  })

  it('numbers a message anew only once when two retries of it come at once after its epoch was given up', async () => {
    const { clock, net, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h1')
    const replica = ring.replicasOf(key, 2)[1] as string
    const h1 = hub(hubs, 'h1')
    // An ingress that sends retries of one publish without waiting for the first (its request timed out).
    const ingress = net.bus('hx')
    const publish = (payload: string): Promise<unknown> => ingress.request('h1', { t: 'publish', id: 'hx:1', topic: `${key}/t`, payload: Buffer.from(payload), qos: 1, retain: false }, 10_000)
    const first = await settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/t`, payload: Buffer.from('m0'), qos: 1, retain: false })) as { epoch: number }
    await settle(clock, hub(hubs, replica).log.noteEpoch(key, first.epoch + 1))
    const attempt = publish('m1')
    for (let t = 0; t < 1_000 && h1.router.stats.retriesKeptFirst === 0; t++) await run(clock, 1)
    expect(h1.router.stats.retriesKeptFirst, 'm1 numbered, its copy refused: epoch given up').toBe(1)
    // Another message takes the key over again (after m1's kept place ends): owned in a new epoch
    // when the two retries come, so the first numbers m1 at once.
    await settle(clock, hub(hubs, 'h2').router.publish({ topic: `${key}/t`, payload: Buffer.from('m2'), qos: 1, retain: false }))
    const [a, b] = await settle(clock, Promise.all([publish('m1'), publish('m1'), attempt]))
    const offset = (r: unknown): unknown => { const { epoch, seq } = r as { epoch: number, seq: number }; return { epoch, seq } }
    expect(offset(a), 'both retries answered with one offset').toEqual(offset(b))
    const renumbered = h1.log.since(key, { epoch: first.epoch, seq: Number.MAX_SAFE_INTEGER }).map((e) => e.payload.toString())
    expect(renumbered, 'numbered once in the new epoch').toEqual(['m2', 'm1'])
  })

  it('numbers a message refused while its owner saw too few live hubs ahead of a later one kept in a failed take-over (heal)', async () => {
    const { clock, net, hubs, ids, setView } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h3')
    const h3 = hub(hubs, 'h3')
    // The heal as h3 sees it: still alone while h1 already sees it back and forwards to it.
    setView('h3', ['h3'])
    h3.router.ownershipChanged()
    const { acked, send } = publisher(key, hub(hubs, 'h1'))
    const m1 = send('m1') // reaches h3 while it sees too few live hubs: refused, no place kept
    await run(clock, 2)
    // h3 sees the others again, but h2 does not answer yet: m2's take-over is refused, its place kept.
    setView('h3', undefined)
    net.crash('h2')
    h3.router.ownershipChanged()
    const m2 = send('m2') // sent while m1 is on its way (same owner): reaches h3 after it
    await run(clock, 200)
    net.revive('h2')
    await settle(clock, Promise.all([m1, m2]))
    expect([...acked].sort()).toEqual(['m1', 'm2'])
    // m1's retry arrived after m2's first attempt; m2 came later from the same ingress run.
    expect(h3.log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString()), 'in publish order').toEqual(['m1', 'm2'])
  })

  it('refuses a later publish of a run while an earlier one refused without a kept place has not come back (heal)', async () => {
    const { clock, hubs, ids, setView } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h3')
    const h3 = hub(hubs, 'h3')
    // h3 is back in h1's view but does not see the others yet: it refuses m1 (too few live hubs).
    setView('h3', ['h3'])
    h3.router.ownershipChanged()
    const { acked, send } = publisher(key, hub(hubs, 'h1'))
    const m1 = send('m1')
    await run(clock, 2) // m1 refused at h3; its answer is on its way back
    setView('h3', undefined)
    h3.router.ownershipChanged()
    const m2 = send('m2') // m1 is on its way to the owner: m2 goes too, and reaches h3 now that it sees the ring
    await settle(clock, Promise.all([m1, m2]))
    expect([...acked].sort()).toEqual(['m1', 'm2'])
    expect(h3.log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString()), 'in publish order').toEqual(['m1', 'm2'])
    expect(h3.router.stats.refusedBehindRefusal, 'm2 was refused behind m1').toBeGreaterThan(0)
  })

  it('stops holding a run back once its refused publish is answered as a retry of one numbered before', async () => {
    const { clock, net, hubs, ids, setView } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h3')
    const h3 = hub(hubs, 'h3')
    // A fake ingress hub x (run x:r): each attempt's id and timing are the test's.
    const bus = net.bus('x')
    const send = async (n: number): Promise<PublishReply | undefined> => {
      const reply = await settle(clock, bus.request('h3', { t: 'publish-batch', items: [{ id: `x:r:${n}`, topic: `${key}/t`, payload: Buffer.from(`p${n}`), qos: 1, retain: false }] }, 2_000))
      return reply.t === 'published-batch' ? reply.results[0] : undefined
    }
    const first = await send(1)
    expect(first?.t).toBe('published')
    setView('h3', ['h1', 'h2']) // a flap in h3's view: the retry of 1 (its answer lost) is refused
    expect((await send(1))?.t).toBe('not-owner')
    setView('h3', undefined)
    expect(await send(1), 'answered with its first number').toMatchObject({ t: 'published', epoch: first?.t === 'published' ? first.epoch : -1, seq: first?.t === 'published' ? first.seq : -1 })
    expect((await send(2))?.t, '2 is not refused behind 1, which is back').toBe('published')
    expect(h3.router.stats.refusedBehindRefusal).toBe(0)
  })

  it('does not hold a run back for a refused publish its ingress has finished elsewhere (the next publish says so)', async () => {
    const { clock, net, hubs, ids, setView } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h3')
    const h3 = hub(hubs, 'h3')
    // A fake ingress hub x (run x:r), naming the first publish of the key it has not finished.
    const bus = net.bus('x')
    const send = async (n: number, first: number): Promise<PublishReply | undefined> => {
      const reply = await settle(clock, bus.request('h3', { t: 'publish-batch', items: [{ id: `x:r:${n}`, topic: `${key}/t`, payload: Buffer.from(`p${n}`), qos: 1, retain: false, first }] }, 2_000))
      return reply.t === 'published-batch' ? reply.results[0] : undefined
    }
    setView('h3', ['h1', 'h2']) // a flap in h3's view: 1 is refused, without a kept place
    const refusedAt = clock.monotonicMs()
    expect((await send(1, 1))?.t).toBe('not-owner')
    setView('h3', undefined)
    expect((await send(2, 1))?.t, 'while x has not finished 1, 2 is refused behind it').toBe('not-owner')
    expect(h3.router.stats.refusedBehindRefusal).toBe(1)
    // x's retry of 1 went to another owner and was answered there (x's view moved on meanwhile).
    // Well within the second a refusal counts by time: `first` ended it, not the clock.
    expect(clock.monotonicMs() - refusedAt).toBeLessThan(500)
    expect((await send(2, 2))?.t, 'x says 1 is finished: 2 is numbered at once').toBe('published')
    expect(h3.router.stats.refusedBehindRefusal).toBe(1)
    expect(h3.router.stats.endedByIngress).toBe(1)
    expect(h3.log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['p2'])
  })

  it('numbers a message refused during a take-over (a hub of the replica set did not answer) ahead of a later message that found the take-over done', async () => {
    const { clock, net, hubs, ids } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h1')
    const h1 = hub(hubs, 'h1')
    const from = hub(hubs, 'h3')
    await settle(clock, from.router.publish({ topic: `${key}/t`, payload: Buffer.from('m0'), qos: 1, retain: false }))
    // h1 gives every key up (a hub came back from the dead), and h2 cannot be reached for a while.
    h1.router.resequenceAll()
    net.crash('h2')
    const { acked, send } = publisher(key, from)
    const m1 = send('m1')
    // m1's take-over asks h2, which cannot be reached: m1 is refused, and its retry kept first.
    for (let t = 0; t < 1_000 && h1.router.stats.retriesKeptFirst === 0; t++) await run(clock, 1)
    expect(h1.router.stats.retriesKeptFirst).toBe(1)
    net.revive('h2')
    const m2 = send('m2') // arrives after m1's refusal, before its retry
    await settle(clock, Promise.all([m1, m2]))
    expect(acked).toEqual(['m1', 'm2'])
    expect(h1.log.since(key, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['m0', 'm1', 'm2'])
    expect(h1.router.stats.heldForRetries).toBeGreaterThan(0)
  })

  it('numbers nothing for a key it takes over while a hub of the key\'s replica set does not answer (it may hold a newer epoch); goes on once that hub is out of the ring', async () => {
    const { clock, net, hubs, ids, setRing } = ringOf(3)
    const key = keyOwnedBy(new Ring(ids), 'h1')
    const h1 = hub(hubs, 'h1')
    net.crash('h2')
    let answered = false
    const pending = h1.router.publish({ topic: `${key}/t`, payload: Buffer.from('m1'), qos: 1, retain: false })
    void pending.then(() => { answered = true }, () => { answered = true })
    await run(clock, 3_000)
    expect(answered).toBe(false)
    expect(h1.log.size(key)).toBe(0)
    setRing(['h1', 'h3'])
    for (const id of ['h1', 'h3']) hub(hubs, id).router.ownershipChanged()
    const offset = await settle(clock, pending) as { epoch: number, seq: number }
    const owner = new Ring(['h1', 'h3']).ownerOf(key) as string
    expect(hub(hubs, owner).log.since(key, { epoch: 0, seq: 0 }).map((e) => `${e.epoch}:${e.seq}:${e.payload.toString()}`)).toEqual([`${offset.epoch}:${offset.seq}:m1`])
  })

  it('a hub cut off from the others numbers no QoS 1 message (nobody could copy it) and takes no key over (not even for QoS 0); after the heal the retries are numbered in publish order', async () => {
    const { clock, net, hubs, ids, setView } = ringOf(3)
    const full = new Ring(ids)
    const own = keyOwnedBy(full, 'h3')
    const theirs = keyOwnedBy(full, 'h1')
    const h3 = hub(hubs, 'h3')
    await settle(clock, h3.router.publish({ topic: `${own}/t`, payload: Buffer.from('m0'), qos: 1, retain: false }))
    // The cut: h3 sees h1 and h2 dead, they see h3 dead.
    for (const other of ['h1', 'h2']) net.cut('h3', other)
    setView('h3', ['h3'])
    for (const other of ['h1', 'h2']) setView(other, ['h1', 'h2'])
    for (const id of ids) hub(hubs, id).router.ownershipChanged()
    const answers: string[] = []
    const send = (topic: string, payload: string, qos: 0 | 1): Promise<unknown> => {
      const p = h3.router.publish({ topic, payload: Buffer.from(payload), qos, retain: false })
      p.then(() => answers.push(payload), () => answers.push(`${payload} failed`))
      return p
    }
    const pending = [send(`${own}/t`, 'm1', 1), send(`${own}/t`, 'm2', 1), send(`${theirs}/t`, 'q1', 0)]
    await run(clock, 3_000)
    expect(answers).toEqual([])
    expect(h3.log.since(own, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['m0'])
    expect(h3.log.size(theirs)).toBe(0)
    expect(h3.delivered.map((d) => d.payload.toString())).toEqual(['m0'])
    // The heal: one ring again; the retries go to the owners.
    net.heal()
    for (const id of ids) setView(id, undefined)
    for (const id of ids) hub(hubs, id).router.ownershipChanged()
    await settle(clock, Promise.all(pending))
    expect(answers).toEqual(['m1', 'm2', 'q1'])
    const owner = hub(hubs, full.ownerOf(own) as string)
    expect(owner.log.since(own, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['m0', 'm1', 'm2'])
    expect(hub(hubs, 'h1').log.since(theirs, { epoch: 0, seq: 0 }).map((e) => e.payload.toString())).toEqual(['q1'])
  })

  it('fails the retry of a forward whose commit failed at the owner (a full disk), rather than answering it as numbered', async () => {
    const { clock, net, hubs, ids } = ringOf(3)
    const ring = new Ring(ids)
    const key = keyOwnedBy(ring, 'h2')
    const owner = hub(hubs, 'h2')
    await settle(clock, hub(hubs, 'h1').router.publish({ topic: `${key}/t`, payload: Buffer.from('first'), qos: 1, retain: false }))
    // The owner's file is full: its next commit fails with SQLITE_FULL.
    owner.db.sqlite.pragma(`max_page_count = ${Number(owner.db.sqlite.pragma('page_count', { simple: true }))}`)
    const outcome = hub(hubs, 'h1').router.publish({ topic: `${key}/t`, payload: Buffer.alloc(20_000, 1), qos: 1, retain: false })
      .then((o) => `acknowledged as ${o.epoch}:${o.seq}`, () => 'failed')
    // The owner's answer ('failed') is lost on the way back, so the ingress hub retries the same id.
    for (let t = 0; t < 100 && owner.db.failing === undefined; t++) await run(clock, 1)
    expect(owner.db.failing).toBe('disk-full')
    net.cut('h1', 'h2')
    await run(clock, 3)
    net.heal()
    expect(await settle(clock, outcome)).toBe('failed')
    expect(owner.router.stats.duplicates, 'the retry reached the owner').toBe(1)
    expect(owner.log.size(key)).toBe(1)
  })
})

