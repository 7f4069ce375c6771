import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Offline queues are bounded (invariant 6): a persistent-session client that stays away gets at
// most maxQueuedMessages queued; the rest are dropped, counted, and never pile up on disk.
const LIMIT = 5
const dir = tempDir()
let hub: Hub
let url: string

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true, maxQueuedMessages: LIMIT })
  url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
})

afterAll(async () => {
  await hub.stop()
  dir.remove()
})

describe('offline queue bound', () => {
  it(`queues ${LIMIT} messages for a disconnected client, drops and counts the rest`, async () => {
    const away = await connect(url, { clientId: 'away', clean: false })
    await away.subscribeAsync('q/#', { qos: 1 })
    await away.endAsync()

    const pub = await connect(url)
    for (let i = 0; i < LIMIT + 3; i++) await pub.publishAsync('q/m', `m${i}`, { qos: 1 })
    await close(pub)
    const dropped = async (): Promise<number> => (await hub.metrics.drops.get()).values
      .filter((v) => v.labels.reason === 'offline-queue-full').reduce((s, v) => s + v.value, 0)
    await waitFor(async () => (await dropped()) === 3, 'three drops counted')
    const rows = hub.db.read(() => hub.db.sqlite.prepare("SELECT count(*) AS n FROM outgoing WHERE client_id = 'away'").get()) as { n: number }
    expect(rows.n).toBe(LIMIT)

    const back = mqtt.connect(url, { clientId: 'away', clean: false, reconnectPeriod: 0 })
    const got = collect(back)
    await waitFor(() => got.length === LIMIT, `${LIMIT} queued messages`)
    expect(got.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    await close(back)
  })

  it('never drops for a connected client, whose queue rows are its in-flight window', async () => {
    const here = await connect(url, { clientId: 'here', clean: false })
    const got = collect(here)
    await here.subscribeAsync('h/#', { qos: 1 })
    const pub = await connect(url)
    for (let i = 0; i < LIMIT * 4; i++) await pub.publishAsync('h/m', `m${i}`, { qos: 1 })
    await waitFor(() => got.length === LIMIT * 4, 'every message')
    await close(pub, here)
  })
})
