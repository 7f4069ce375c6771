import { describe, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import { Ring } from '../../hub/src/ring/ring.js'
import { counter } from '../helpers/admin.js'
import { close, connect } from '../helpers/mqtt.js'
import { criterion, reportScenario } from './record.js'
import { sleep } from './fault-ring.js'
import { seconds, withRing } from './scenario.js'

// Devices with wills connected to h1, which is killed with -9; a subscriber on h3 must get every
// will within the detection time + 1 s (issue 7), once. Wills of keys owned by h1 itself and by
// the others.
describe('wills of a killed hub', () => {
  it('reach a subscriber on another hub within detection + 1 s, once each', async () => {
    await withRing({ hosts: 3 }, async (ring) => {
      const started = performance.now()
      const owners = new Ring(['h1', 'h2', 'h3'])
      const devices = Array.from({ length: 12 }, (_, i) => `devices/w${i}`)
      const clients: MqttClient[] = []
      try {
        const watcher = await connect(ring.url(3), { clientId: `will-watcher-${process.pid}` })
        clients.push(watcher)
        const wills: Array<{ topic: string, atMs: number }> = []
        watcher.on('message', (topic) => wills.push({ topic, atMs: performance.now() }))
        await watcher.subscribeAsync('devices/+/status', { qos: 1 })
        for (const key of devices) {
          const c = await connect(ring.url(1), { clientId: `dev-${key.split('/')[1]}-${process.pid}`, will: { topic: `${key}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
          c.on('error', () => { /* the hub dies */ })
          clients.push(c)
        }
        await sleep(1_000) // the wills reach their guardians
        const killAt = performance.now()
        await ring.signal(1, 'SIGKILL')
        const detectedMs = await ring.waitState([2, 3], 1, 'dead', killAt, 10_000)
        await sleep(detectedMs + 3_000 - (performance.now() - killAt))
        const topics = new Set(wills.map((w) => w.topic))
        const missing = devices.filter((k) => !topics.has(`${k}/status`)).length
        const latest = wills.length === 0 ? Infinity : Math.max(...wills.map((w) => w.atMs - killAt))
        // Where a second copy would come from: two guardians publishing one will, or one will
        // numbered twice (a retry after failed copies in an epoch given up meanwhile).
        const survivors = [2, 3]
        const sum = async (f: (i: number) => Promise<number>): Promise<number> => (await Promise.all(survivors.map(f))).reduce((a, b) => a + b, 0)
        const published = await sum((i) => counter(ring.admin(i), 'ringhub_wills_total', 'event="published"'))
        const numbered = await sum((i) => ring.routerEvents(i, 'sequenced'))
        const keptForRetry = await sum((i) => ring.routerEvents(i, 'retriesKeptFirst'))
        const stalls = await sum((i) => ring.routerEvents(i, 'stalls'))
        const twice = [...topics].filter((t) => wills.filter((w) => w.topic === t).length > 1)
        if (twice.length > 0) {
          // The survivors' own account, for a run that shows it (rare: once in CI, never in 28 runs here).
          for (const i of survivors) {
            const lines = ring.hub(i).output.filter((l) => twice.some((t) => l.includes(t.split('/').slice(0, 2).join('/'))) || /superseded|did not run|will|copies|take/.test(l))
            process.stdout.write(`[faults] wills: ${ring.id(i)} said\n  ${lines.slice(-40).join('\n  ')}\n`)
          }
          for (const t of twice) process.stdout.write(`[faults] wills: ${t} at ms after the kill ${wills.filter((w) => w.topic === t).map((w) => Math.round(w.atMs - killAt)).join(', ')}\n`)
        }
        reportScenario({
          scenario: 'wills of devices on a killed hub',
          figures: {
            devices: devices.length, 'owned by the killed hub': devices.filter((k) => owners.ownerOf(k) === 'h1').length, 'wills received': wills.length,
            'published by guardians': published, 'numbered by the owners': numbered, 'kept for a retry': keptForRetry, stalls, 'received twice': twice.join(' ') || 'none',
            'detection ms': Math.round(detectedMs), 'last will after kill ms': Math.round(latest), 'wall s': seconds(performance.now() - started),
          },
          criteria: [
            criterion('wills missing', missing, '==', 0),
            criterion('wills received twice', wills.length - topics.size, '==', 0),
            criterion('last will after kill − detection ms', latest - detectedMs, '<=', 1_000),
          ],
        })
      } finally {
        await close(...clients).catch(() => undefined)
      }
    })
  }, 60_000)
})
