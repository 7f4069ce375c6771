import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { Agent } from '../../device-agent/src/agent.js'
import { systemClock } from '../../device-agent/src/base/system-clock.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import { SerialSim } from '../../firmware-sim/src/serial/serial-sim.js'
import { systemClock as simClock } from '../../device-agent/dist/base/system-clock.js'
import { seededRng as simRng } from '../../device-agent/dist/base/rng.js'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { PtyPair } from '../helpers/pty.js'
import { realSerial, spawnRinghub, stopProcess, waitForEntry, type SpawnedProcess } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

const DEVICE = 'd7'

interface Arrival { seq: number, fseq: number, at: number }

/**
 * A witness with a persistent session on the hub: it subscribes once while the hub is up, so the
 * hub queues everything for it while it is away. Listens before CONNECT, so nothing delivered
 * right after CONNACK slips by.
 */
async function witness(url: string, got: Arrival[]): Promise<MqttClient> {
  const c = mqtt.connect(url, { clientId: 'witness', clean: false, reconnectPeriod: 0 })
  c.on('message', (_t, payload, _p: IPublishPacket) => {
    const b = JSON.parse(payload.toString()) as { seq: number, fseq: number }
    got.push({ seq: b.seq, fseq: b.fseq, at: performance.now() })
  })
  await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) })
  return c
}

/** A hub that existed (so its port and the witness's session are known), and is now down. */
async function hubThatWentDown(dir: string): Promise<{ port: number, url: string }> {
  const hub = await startHub(dir, { allowAnonymous: true })
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
  const w = await connect(url, { clientId: 'witness', clean: false })
  await w.subscribeAsync(`devices/${DEVICE}/telemetry/#`, { qos: 1 })
  await close(w)
  await hub.stop()
  return { port: hub.ports.mqtt, url }
}

async function sim(path: string): Promise<SerialSim> {
  const s = await SerialSim.start({ path, baudRate: 115200, device: DEVICE, clock: simClock, rng: simRng(3), intervalMs: 0, sensors: ['temp'], opener: realSerial })
  cleanups.push(() => s.stop())
  return s
}

function outboxCount(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT count(*) FROM outbox').pluck().get() as number
  } finally {
    db.close()
  }
}

function checkOrder(got: Arrival[]): void {
  for (let i = 1; i < got.length; i++) {
    expect(got[i]!.fseq, `arrival ${i}`).toBe(got[i - 1]!.fseq + 1)
    expect(got[i]!.seq, `arrival ${i}`).toBeGreaterThan(got[i - 1]!.seq)
  }
}

describe('store-and-forward outbox', () => {
  it('keeps 6,000 readings through a hub outage and an agent kill -9, then replays them in order, none twice, at >= 1k msg/s', async () => {
    const dir = tempDir('ringhub-outbox-e2e-')
    cleanups.push(dir.remove)
    const hubDir = join(dir.path, 'hub')
    const outbox = join(dir.path, 'outbox.sqlite')
    const { port, url } = await hubThatWentDown(hubDir)
    const pty = await PtyPair.open(dir.path)
    cleanups.push(() => pty.close())
    const args = ['agent', '--port', pty.b, '--device', DEVICE, '--hubs', url, '--outbox', outbox, '--stats-interval-ms', '0', '--log-level', 'info']
    const agents: SpawnedProcess[] = []
    cleanups.push(() => Promise.all(agents.map((a) => stopProcess(a, 'SIGKILL'))))
    const agent = (): SpawnedProcess => { const a = spawnRinghub(args); agents.push(a); return a }

    const first = agent()
    await waitForEntry(first, 'serial port open')
    const firmware = (await sim(pty.a)).firmware
    firmware.telemetry(3000)
    await waitFor(() => outboxCount(outbox) === 3002, 'first 3000 readings (+ hello, state) in the outbox', 20_000)
    first.child.kill('SIGKILL')
    expect((await first.exited).signal).toBe('SIGKILL')

    const second = agent()
    await waitForEntry(second, 'agent started', (e) => e.queued === 3002)
    await waitForEntry(second, 'serial port open')
    firmware.telemetry(3000)
    await waitFor(() => outboxCount(outbox) === 6002, 'all 6000 readings in the outbox', 20_000)

    // The hub comes back on the same port, with the witness's session.
    const got: Arrival[] = []
    const hub: Hub = await startHub(hubDir, { allowAnonymous: true, mqtt: port })
    cleanups.push(() => hub.stop())
    const w = await witness(url, got)
    cleanups.push(() => close(w))
    await waitFor(() => got.length >= 6000, `6000 readings at the witness (have ${got.length})`, 30_000)
    await waitFor(() => outboxCount(outbox) === 0, 'outbox drained', 10_000)
    expect(got).toHaveLength(6000)
    expect(got[0]!.fseq).toBe(3) // after hello (1) and state (2)
    expect(got.at(-1)!.fseq).toBe(6002)
    checkOrder(got)
    const seconds = (got.at(-1)!.at - got[0]!.at) / 1000
    const rate = Math.round(6000 / seconds)
    console.log(`outbox replay: 6000 readings in ${seconds.toFixed(2)} s = ${rate} msg/s`)
    expect(rate).toBeGreaterThanOrEqual(1000)
  })

  it('past its bound drops the oldest readings and counts them; the newest still arrive in order', async () => {
    const dir = tempDir('ringhub-outbox-bound-')
    cleanups.push(dir.remove)
    const hubDir = join(dir.path, 'hub')
    const { port, url } = await hubThatWentDown(hubDir)
    const pty = await PtyPair.open(dir.path)
    cleanups.push(() => pty.close())
    const agent = Agent.start({
      hubs: [url], outboxPath: join(dir.path, 'outbox.sqlite'), maxOutboxMessages: 1000, statsIntervalMs: 0,
      ports: [{ device: DEVICE, path: pty.b, baud: 115200, maxFrameBytes: 1024, partialTimeoutMs: 500, commandTimeoutMs: 5000 }],
      opener: realSerial, lister: { list: async () => [] }, clock: systemClock, rng: seededRng(2), log: pino({ level: 'silent' }),
      hubBackoff: { initialMs: 50, maxMs: 300 },
    })
    cleanups.push(() => agent.stop())
    await waitFor(() => agent.bridges[0]!.serial.isOpen, 'port open')
    const firmware = (await sim(pty.a)).firmware
    firmware.telemetry(2498) // + hello + state = 2500 messages
    await waitFor(() => agent.bridges[0]!.counters.get('stored') === 2500, 'all stored', 20_000)
    expect(agent.stats().outbox).toMatchObject({ queued: 1000, dropped: 1500 })

    const got: Arrival[] = []
    const hub = await startHub(hubDir, { allowAnonymous: true, mqtt: port })
    cleanups.push(() => hub.stop())
    const w = await witness(url, got)
    cleanups.push(() => close(w))
    await waitFor(() => got.length >= 1000 && agent.stats().outbox.queued === 0, 'the 1000 newest delivered', 20_000)
    expect(got).toHaveLength(1000)
    expect(got[0]!.fseq).toBe(1501)
    expect(got.at(-1)!.fseq).toBe(2500)
    checkOrder(got)
    expect(agent.stats().outbox.dropped).toBe(1500)
  })
})
