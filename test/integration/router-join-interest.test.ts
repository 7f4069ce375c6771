import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { Ring } from '../../hub/src/ring/ring.js'
import { MemoryBusNetwork } from '../../hub/src/routing/memory-peer-bus.js'
import { Router, type Delivery, type RetainedStore } from '../../hub/src/routing/router.js'
import { Sequencer } from '../../hub/src/routing/sequencer.js'
import { HubDb } from '../../hub/src/store/db.js'
import { TopicLog } from '../../hub/src/store/topic-log.js'

// A hub that has just joined takes keys over. Every other hub announces its interest when it
// sees the new hub, but not all at the same moment: a publish forwarded by one that already sees
// it may arrive before another one's interest. The new owner must not number (and acknowledge)
// that message before it knows where the subscribers are, or the subscribers of the late hub
// never get it. Four routers on a virtual clock and an in-memory bus.

const noRetained: RetainedStore = { store: async () => {}, matching: async () => [] }
const open: HubDb[] = []
afterEach(() => { for (const db of open.splice(0)) db.close() })

async function run(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t++) { clock.advance(1); await new Promise((r) => setImmediate(r)) }
}

/** h1..h3 subscribed to `devices/#` everywhere; h4 joins, sees the others and announces itself. */
async function joinOfH4(): Promise<{ clock: ManualClock, routers: Map<string, Router>, delivered: Map<string, Delivery[]>, movedKeys: string[], seen: (id: string) => void }> {
  const clock = new ManualClock()
  const net = new MemoryBusNetwork(clock, 1)
  let members = ['h1', 'h2', 'h3']
  let ring = new Ring(members)
  const routers = new Map<string, Router>()
  const delivered = new Map<string, Delivery[]>()
  const add = (id: string): Router => {
    const db = HubDb.open({ path: ':memory:', clock, log: silentLogger(), groupCommitMs: 0 })
    open.push(db)
    const log = new TopicLog(db)
    const got: Delivery[] = []
    delivered.set(id, got)
    const r = new Router({
      self: id, bus: net.bus(id), ownerOf: (k) => ring.ownerOf(k), replicasOf: (k, n) => ring.replicasOf(k, n), peers: () => members.filter((p) => p !== id),
      sequencer: new Sequencer({ log, clock }), topicLog: log, retained: noRetained, deliverLocal: (d) => { got.push(d) }, clock, log: silentLogger(), keyDepth: 2,
    })
    routers.set(id, r)
    return r
  }
  for (const id of members) add(id)
  for (const r of routers.values()) void r.subscribe('devices/#')
  await run(clock, 10)
  const after = new Ring([...members, 'h4'])
  const movedKeys = Array.from({ length: 200 }, (_, i) => `devices/j${i}`).filter((k) => after.ownerOf(k) === 'h4')
  members = [...members, 'h4']
  ring = after
  add('h4').refreshInterest()
  // What a hub does when it sees h4 join: the ring changed, and h4 gets its interest.
  const seen = (id: string): void => { const r = routers.get(id) as Router; r.ownershipChanged(); r.refreshInterest() }
  return { clock, routers, delivered, movedKeys, seen }
}

const publish = (r: Router, key: string, text: string): Promise<unknown> => r.publish({ topic: `${key}/t`, payload: Buffer.from(text), qos: 1, retain: false })
const got = (delivered: Map<string, Delivery[]>, id: string, key: string): string[] => (delivered.get(id) as Delivery[]).filter((d) => d.key === key).map((d) => d.payload.toString())

describe('a hub that joins and takes keys over', () => {
  it('numbers nothing before every peer has told it its interest', async () => {
    // h1 sees h4 at once and forwards a publish of a key that moved to it; h3 sees h4 20 ms
    // later, h2 only 320 ms later.
    const { clock, routers, delivered, movedKeys, seen } = await joinOfH4()
    const key = movedKeys[0] as string
    seen('h1')
    const acked = publish(routers.get('h1') as Router, key, 'moved')
    await run(clock, 20)
    seen('h3')
    await run(clock, 300)
    seen('h2')
    await run(clock, 50)
    await acked
    for (const id of ['h1', 'h2', 'h3']) expect(got(delivered, id, key), `at ${id}`).toEqual(['moved'])
  })

  it('goes on after 2 s without a peer whose interest never comes, and does not wait for it again', async () => {
    const { clock, routers, movedKeys, seen } = await joinOfH4()
    seen('h1')
    seen('h3') // h2 never announces its interest to h4 (its message lost)
    let firstAckedAt: number | undefined
    const start = clock.now()
    void publish(routers.get('h1') as Router, movedKeys[0] as string, 'a').then(() => { firstAckedAt = clock.now() - start })
    await run(clock, 2_100)
    expect(firstAckedAt).toBeGreaterThanOrEqual(2_000)
    let secondAckedAt: number | undefined
    const again = clock.now()
    void publish(routers.get('h1') as Router, movedKeys[1] as string, 'b').then(() => { secondAckedAt = clock.now() - again })
    await run(clock, 50)
    expect(secondAckedAt).toBeLessThan(50)
  })
})
