import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { pino } from 'pino'
import { Agent } from '../../device-agent/src/agent.js'
import { systemClock } from '../../device-agent/src/base/system-clock.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import { SerialSim } from '../../firmware-sim/src/serial/serial-sim.js'
import { systemClock as simClock } from '../../device-agent/dist/base/system-clock.js'
import { seededRng as simRng } from '../../device-agent/dist/base/rng.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, type Received } from '../helpers/mqtt.js'
import { PtyPair } from '../helpers/pty.js'
import { realSerial } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

const DEVICE = 'd5'
const fseqOf = (m: Received): number => (JSON.parse(m.payload) as { fseq: number }).fseq

describe('hub failover', () => {
  it('moves to the next hub (mqtt:// → ws://) when its hub goes, resubscribes, and loses no reading', async () => {
    const dir = tempDir('ringhub-failover-')
    cleanups.push(dir.remove)
    const hubA = await startHub(join(dir.path, 'a'), { id: 'a', allowAnonymous: true })
    let aStopped = false
    cleanups.push(() => (aStopped ? undefined : hubA.stop()))
    const hubB = await startHub(join(dir.path, 'b'), { id: 'b', allowAnonymous: true })
    cleanups.push(() => hubB.stop())
    const urlA = `mqtt://127.0.0.1:${hubA.ports.mqtt}`
    const urlB = `ws://127.0.0.1:${hubB.ports.admin}/mqtt`
    const subA = await connect(urlA)
    const subB = await connect(`mqtt://127.0.0.1:${hubB.ports.mqtt}`)
    cleanups.push(() => close(subA, subB))
    const gotA = collect(subA)
    const gotB = collect(subB)
    await subA.subscribeAsync(`devices/${DEVICE}/#`, { qos: 1 })
    await subB.subscribeAsync(`devices/${DEVICE}/#`, { qos: 1 })

    const pty = await PtyPair.open(dir.path)
    cleanups.push(() => pty.close())
    const agent = Agent.start({
      hubs: [urlA, urlB], outboxPath: join(dir.path, 'outbox.sqlite'), statsIntervalMs: 0,
      ports: [{ device: DEVICE, path: pty.b, baud: 115200, maxFrameBytes: 1024, partialTimeoutMs: 500, commandTimeoutMs: 3000 }],
      opener: realSerial, lister: { list: async () => [] }, clock: systemClock, rng: seededRng(8), log: pino({ level: 'silent' }),
      hubBackoff: { initialMs: 100, maxMs: 1000 },
    })
    cleanups.push(() => agent.stop())
    const link = agent.bridges[0]!.link
    await waitFor(() => link.connected && agent.bridges[0]!.serial.isOpen, 'agent up')
    const sim = await SerialSim.start({ path: pty.a, baudRate: 115200, device: DEVICE, clock: simClock, rng: simRng(4), intervalMs: 20, sensors: ['temp'], opener: realSerial })
    cleanups.push(() => sim.stop())
    const telemetry = (got: Received[]): Received[] => got.filter((m) => m.topic.endsWith('/telemetry/temp'))
    await waitFor(() => telemetry(gotA).length >= 20, 'telemetry on hub A')
    await subA.publishAsync(`devices/${DEVICE}/cmd/ping`, JSON.stringify({ id: 'via-a' }), { qos: 1 })
    await waitFor(() => gotA.some((m) => m.topic.endsWith('/cmd/ping/res') && m.payload.includes('"via-a"')), 'command through A')

    await hubA.stop()
    aStopped = true
    await waitFor(() => link.connected && link.url === urlB, 'agent on hub B over WebSocket', 10_000)
    await waitFor(() => telemetry(gotB).length >= 20, 'telemetry on hub B')
    expect(gotB.find((m) => m.topic.endsWith('/status'))?.payload).toBe('online')

    // Resubscribed on B: commands reach the device through B.
    await subB.publishAsync(`devices/${DEVICE}/cmd/ping`, JSON.stringify({ id: 'via-b' }), { qos: 1 })
    await waitFor(() => gotB.some((m) => m.topic.endsWith('/cmd/ping/res') && m.payload.includes('"via-b"')), 'command through B')

    // No reading was lost in the switch: the firmware's frame counter (telemetry and command
    // responses) has no gap across both hubs.
    const frames = [...gotA, ...gotB].filter((m) => m.topic.endsWith('/telemetry/temp') || m.topic.endsWith('/res'))
    const fseqs = [...new Set(frames.map(fseqOf))].sort((a, b) => a - b)
    const first = fseqs[0]!
    expect(fseqs).toEqual(Array.from({ length: fseqs.length }, (_, i) => first + i))
    expect(agent.bridges[0]!.counters.get('hub_connects')).toBe(2)
  })
})
