import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { pino } from 'pino'
import { HubLink } from '../../device-agent/src/hub/hub-link.js'
import { systemClock } from '../../device-agent/src/base/system-clock.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { freePort } from '../helpers/agent.js'
import { selfSignedCert } from '../helpers/tls.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

async function hub() {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const h = await startHub(join(dir.path, 'hub'), { allowAnonymous: true })
  cleanups.push(() => h.stop())
  return { hub: h, url: `mqtt://127.0.0.1:${h.ports.mqtt}` }
}

function link(urls: string[], extra: Partial<ConstructorParameters<typeof HubLink>[0]> = {}): HubLink {
  const l = new HubLink({ urls, clientId: 'd1:agent', clock: systemClock, rng: seededRng(3), log: pino({ level: 'silent' }), backoff: { initialMs: 40, maxMs: 200 }, ...extra })
  cleanups.push(() => l.stop())
  l.start()
  return l
}

describe('HubLink against real hubs', () => {
  it('delivers a retained message published back to back with later ones (the aedes reordering race)', async () => {
    const { url } = await hub()
    const sub = await connect(url)
    cleanups.push(() => close(sub))
    const got = collect(sub)
    await sub.subscribeAsync('devices/d1/#', { qos: 1 })
    const l = link([url])
    await waitFor(() => l.connected, 'connected')
    // Plain aedes emits each retained message after the telemetry behind it and then drops it for
    // this live subscriber as "older"; the hub numbers messages in delivery order instead.
    for (let i = 0; i < 20; i++) {
      l.publish('devices/d1/state', `s${i}`, { qos: 1, retain: true })
      l.publish('devices/d1/telemetry/t', `t${i}`, { qos: 1 })
    }
    await waitFor(() => got.length >= 40, `40 messages (have ${got.length})`)
    expect(got.map((m) => m.payload)).toEqual(Array.from({ length: 20 }, (_, i) => [`s${i}`, `t${i}`]).flat())
  })

  it('connects over mqtts:// with the hub\'s CA and refuses a certificate it cannot verify', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const tls = selfSignedCert(dir.path)
    const h = await startHub(join(dir.path, 'hub'), { allowAnonymous: true, mqtts: 0, tlsCert: tls.certPath, tlsKey: tls.keyPath })
    cleanups.push(() => h.stop())
    const url = `mqtts://127.0.0.1:${h.ports.mqtts}`
    const untrusting = link([url])
    const trusting = link([url], { clientId: 'd2:agent', tls: { ca: tls.cert } })
    await waitFor(() => trusting.connected, 'TLS connect with the CA')
    const acked = await new Promise<Error | undefined>((resolve) => trusting.publish('devices/d2/telemetry/t', '1', { qos: 1 }, resolve))
    expect(acked).toBeUndefined()
    expect(untrusting.connected).toBe(false)
    expect(untrusting.connects).toBe(0)
  })

  it('goes round the list with backoff until a hub answers, and subscribes again after each connect', async () => {
    const { url } = await hub()
    const dead = `mqtt://127.0.0.1:${await freePort()}`
    const messages: string[] = []
    const l = link([dead, dead, url], { subscriptions: [{ filter: 'devices/d1/cmd/+', qos: 1 }], onMessage: (t) => messages.push(t) })
    await waitFor(() => l.connected, 'connected to the third hub')
    expect(l.url).toBe(url)
    const ops = await connect(url)
    cleanups.push(() => close(ops))
    await ops.publishAsync('devices/d1/cmd/x', '{}', { qos: 1 })
    await waitFor(() => messages.length === 1, 'command received')
    l.dropConnection()
    await waitFor(() => l.connects === 2, 'reconnected (round the list again)', 5_000)
    await ops.publishAsync('devices/d1/cmd/y', '{}', { qos: 1 })
    await waitFor(() => messages.includes('devices/d1/cmd/y'), 'command after the reconnect')
  })
})
