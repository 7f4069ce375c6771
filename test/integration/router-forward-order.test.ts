import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { MemoryBusNetwork } from '../../hub/src/routing/memory-peer-bus.js'
import { Router, type Delivery, type RetainedStore } from '../../hub/src/routing/router.js'
import { Sequencer } from '../../hub/src/routing/sequencer.js'
import { HubDb } from '../../hub/src/store/db.js'
import { TopicLog } from '../../hub/src/store/topic-log.js'

// A client's pipelined publishes of one key keep their order through an owner crash
// ([MQTT-4.6.0-6]): they are retried at the ingress hub, and must reach the new owner in the
// order they arrived. Three routers on a virtual clock and an in-memory bus, as in
// router-memory.test.ts; the crashed owner's in-flight requests time out (2 s), those sent after
// the crash are refused at once, so without ForwardOrder each publish retried on its own schedule.

const noRetained: RetainedStore = { store: async () => {}, matching: async () => [] }
const open: HubDb[] = []
afterEach(() => { for (const db of open.splice(0)) db.close() })

function keyOwnedBy(ring: Ring, owner: string): string {
  for (let i = 0; ; i++) if (ring.ownerOf(`devices/d${i}`) === owner) return `devices/d${i}`
}

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t++) { clock.advance(1); await new Promise((r) => setImmediate(r)) }
}

describe('ForwardOrder: per-key order of pipelined publishes across an owner crash', () => {
  it.each([
    { crashAfterMs: 3, ringChangeAfterMs: 600 },
    { crashAfterMs: 5, ringChangeAfterMs: 2_500 }, // after the in-flight requests timed out
    { crashAfterMs: 8, ringChangeAfterMs: 1_300 },
  ])('crash of the owner $crashAfterMs ms into the burst, ring changed $ringChangeAfterMs ms later', async ({ crashAfterMs, ringChangeAfterMs }) => {
    const clock = new ManualClock()
    const net = new MemoryBusNetwork(clock, 1)
    const ids = ['h1', 'h2', 'h3']
    let ring = new Ring(ids)
    let alive = [...ids]
    const routers = new Map<string, Router>()
    const delivered = new Map<string, Delivery[]>()
    for (const id of ids) {
      const db = HubDb.open({ path: ':memory:', clock, log: silentLogger(), groupCommitMs: 0 })
      open.push(db)
      const log = new TopicLog(db)
      const got: Delivery[] = []
      delivered.set(id, got)
      routers.set(id, new Router({
        self: id, bus: net.bus(id), ownerOf: (k) => ring.ownerOf(k), replicasOf: (k, n) => ring.replicasOf(k, n), peers: () => alive.filter((p) => p !== id),
        sequencer: new Sequencer({ log, clock }), topicLog: log, retained: noRetained, deliverLocal: (d) => { got.push(d) }, clock, log: silentLogger(), keyDepth: 2,
      }))
    }
    const router = (id: string): Router => routers.get(id) as Router
    for (const r of routers.values()) r.refreshInterest() // as on seeing each other join
    const key = keyOwnedBy(ring, 'h2')
    router('h3').subscribe('devices/#')
    await run(clock, 5)

    // h1 receives 60 publishes of the key, 6 per millisecond, each sent as it arrives.
    const acks: Array<Promise<unknown>> = []
    for (let ms = 0; ms < 10; ms++) {
      for (let j = 0; j < 6; j++) {
        const n = ms * 6 + j
        acks.push(router('h1').publish({ topic: `${key}/t`, payload: Buffer.from(String(n)), qos: 1, retain: false }))
      }
      if (ms === crashAfterMs) net.crash('h2')
      await run(clock, 1)
    }
    await run(clock, ringChangeAfterMs)
    alive = ['h1', 'h3']
    ring = new Ring(alive)
    for (const id of alive) { router(id).peerGone('h2'); router(id).ownershipChanged() }
    const results = await Promise.all([run(clock, 12_000), ...acks.map((a) => a.then(() => 'acked', () => 'failed'))])
    expect(results.slice(1).filter((r) => r === 'acked')).toHaveLength(60)

    // What h3's subscribers saw of the key: each publish's first arrival, in publish order.
    const firsts: number[] = []
    for (const d of (delivered.get('h3') as Delivery[]).filter((x) => x.key === key)) {
      const n = Number(d.payload.toString())
      if (!firsts.includes(n)) firsts.push(n)
    }
    expect(firsts).toEqual(Array.from({ length: 60 }, (_, n) => n))
  })
})
