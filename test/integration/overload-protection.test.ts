import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import { Hub } from '../../hub/src/hub.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { HubMetrics } from '../../hub/src/metrics/hub-metrics.js'
import { HEAP_GROWTH_PERCENT_UNDER_CAP } from '../../hub/src/mqtt/overload-governor.js'
import { counter, gauge } from '../helpers/admin.js'
import { tempDir, testConfig } from '../helpers/hubs.js'
import { close, collect, connect, rawConnack } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Memory overload protection on a real hub (real sockets, real clock) with the memory it sees
// injected, so that overload starts and ends when the test says: reads from connected clients
// pause (a QoS 1 publish sent meanwhile is neither acknowledged nor lost, and goes through once
// the overload ends), new connections get CONNACK 0x03, QoS 0 deliveries are dropped, all counted.
const MB = 1_048_576
const dir = tempDir()
let hub: Hub
let inUseMb = 50
let reclaims = 0
let heapGrowthPercent: number | undefined
const clients: MqttClient[] = []
const admin = (): string => `127.0.0.1:${hub.ports.admin}`

beforeAll(async () => {
  hub = await Hub.start({
    config: testConfig(dir.path, { allowAnonymous: true, maxRssMb: 100 }),
    clock: systemClock, log: silentLogger(), metrics: new HubMetrics(),
    memory: { sample: () => ({ rssBytes: inUseMb * MB, heapFreeBytes: 0 }), reclaim: () => { reclaims++ }, boundHeapGrowth: (p) => { heapGrowthPercent = p } },
  })
})
afterAll(async () => {
  await close(...clients)
  await hub?.stop()
  dir.remove()
})

describe('memory overload protection (--max-rss-mb)', () => {
  it('pauses reads, refuses connects and drops QoS 0 while over high water; loses no QoS 1 and resumes below low water', async () => {
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const sub = await connect(url, { clientId: 'ov-sub' })
    clients.push(sub)
    const got = collect(sub)
    await sub.subscribeAsync('ov/#', { qos: 1 })
    const pub = await connect(url, { clientId: 'ov-pub' })
    clients.push(pub)
    await pub.publishAsync('ov/a/t', 'before', { qos: 1 })
    await waitFor(() => got.some((m) => m.payload === 'before'), 'the first message delivered')
    // Reads prompt looks at memory between the timer's samples (every 256 KiB read since the last
    // look, timer or not): below high water here. A 512 KiB publish has 256 KiB read between two
    // samples unless it takes two sample intervals to read; published until one is seen.
    await waitFor(async () => {
      await pub.publishAsync('ov/a/big', Buffer.alloc(512 * 1024), { qos: 1 })
      return await counter(admin(), 'ringhub_overload_read_checks_total', 'result="below"') >= 1
    }, 'a look prompted by reads', 10_000, 0)
    expect(await counter(admin(), 'ringhub_overload_read_checks_total', 'result="overloaded"')).toBe(0)
    expect(await gauge(admin(), 'ringhub_overload_active')).toBe(0)
    // With a cap, V8 is told to collect before its heap grows far past what is live.
    expect(heapGrowthPercent).toBe(HEAP_GROWTH_PERCENT_UNDER_CAP)

    inUseMb = 80 // above 70 % of 100
    await waitFor(async () => (await gauge(admin(), 'ringhub_overload_active')) === 1, 'overload on', 5_000, 20)
    expect(reclaims).toBeGreaterThanOrEqual(1)
    expect(await rawConnack(hub.ports.mqtt, { clientId: 'ov-late' })).toBe(3)
    expect(await counter(admin(), 'ringhub_auth_failures_total', 'reason="overloaded"')).toBe(1)
    let acked = false
    const during = pub.publishAsync('ov/a/t', 'during', { qos: 1 }).then(() => { acked = true })
    await waitFor(async () => (await counter(admin(), 'ringhub_overload_shed_total', 'action="read-paused"')) >= 1, 'the publisher held', 5_000, 20)
    await new Promise((r) => setTimeout(r, 300))
    expect(acked).toBe(false)
    expect(got.some((m) => m.payload === 'during')).toBe(false)
    // A QoS 0 message published by the hub itself (not read from a socket) is not delivered.
    await new Promise<void>((resolve) => hub.broker.publish({ cmd: 'publish', topic: 'ov/a/t', payload: Buffer.from('qos0'), qos: 0, retain: false, dup: false }, () => resolve()))
    await waitFor(async () => (await counter(admin(), 'ringhub_dropped_total', 'reason="overload"')) >= 1, 'the QoS 0 delivery dropped', 5_000, 20)

    inUseMb = 65 // between the marks: still overloaded until it stops falling
    inUseMb = 55 // below 60 %
    await waitFor(async () => (await gauge(admin(), 'ringhub_overload_active')) === 0, 'overload off', 5_000, 20)
    await during
    await waitFor(() => got.some((m) => m.payload === 'during'), 'the held message delivered')
    expect(got.some((m) => m.payload === 'qos0')).toBe(false)
    expect(await rawConnack(hub.ports.mqtt, { clientId: 'ov-after' })).toBe(0)
    expect(await gauge(admin(), 'ringhub_overload_events_total')).toBe(1)
    expect(await gauge(admin(), 'ringhub_memory_cap_bytes')).toBe(100 * MB)
  })
})
