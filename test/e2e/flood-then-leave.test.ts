import { afterEach, describe, expect, it } from 'vitest'
import { Publisher } from '../../bench/src/load-publisher.js'
import { Subscriber } from '../../bench/src/load-subscriber.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// QoS 0 publishers flood while their subscribers leave. aedes delivers every packet of one socket
// read at once; mqemitter queues what exceeds its concurrency and, once no listener matches,
// drains that queue by recursion, a few stack frames per message, until the process dies with
// "Maximum call stack size exceeded" (mcollina/mqemitter#204). Plain aedes 1.2 dies here; the
// hub must not. The fast raw clients of the benchmark make the queue deep enough.

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.()
})

describe('a QoS 0 flood whose subscribers leave', () => {
  it('does not crash the hub', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const hub: SpawnedHub = await spawnHub(['--id', 'flood', '--data', dir.path, '--allow-anonymous'])
    cleanups.push(() => stopHub(hub, 'SIGKILL'))
    const N = 4
    const subscribers: Subscriber[] = []
    const publishers: Publisher[] = []
    cleanups.push(() => publishers.forEach((p) => p.stop()))
    for (let i = 0; i < N; i++) {
      const s = new Subscriber({ role: 'subscriber', clientId: `s${i}`, filter: `flood/p${i}`, qos: 0 })
      await s.connect('127.0.0.1', hub.ports.mqtt, 5_000)
      subscribers.push(s)
    }
    for (let i = 0; i < N; i++) {
      const p = new Publisher({ role: 'publisher', clientId: `p${i}`, topic: `flood/p${i}`, qos: 0, window: 0, payloadBytes: 64 })
      await p.connect('127.0.0.1', hub.ports.mqtt, 5_000)
      publishers.push(p)
    }
    publishers.forEach((p) => p.start())
    await waitFor(() => subscribers.every((s) => s.received > 10_000), 'the flood reaching every subscriber', 10_000)

    await Promise.all(subscribers.map((s) => s.client?.close())) // the flood goes on with nobody listening
    const until = performance.now() + 2_000
    await waitFor(() => hub.child.exitCode !== null || performance.now() > until, 'two seconds of flood', 5_000, 50)
    expect(hub.child.exitCode, hub.output.filter((l) => /RangeError|stack size/i.test(l)).join('\n')).toBeNull()
    publishers.forEach((p) => p.stop())

    const probe = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    cleanups.push(() => close(probe))
    const echo = collect(probe)
    await probe.subscribeAsync('after/flood', { qos: 1 })
    await probe.publishAsync('after/flood', 'alive', { qos: 1 })
    await waitFor(() => echo.length === 1, 'round trip after the flood', 10_000)
    expect(echo[0]?.payload).toBe('alive')
  })
})
