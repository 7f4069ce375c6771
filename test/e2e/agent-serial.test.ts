import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { pino } from 'pino'
import type { MqttClient } from 'mqtt'
import { Agent } from '../../device-agent/src/agent.js'
import { systemClock } from '../../device-agent/src/base/system-clock.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import type { PortConfig } from '../../device-agent/src/bridge/device-bridge.js'
import type { PortLister } from '../../device-agent/src/serial/usb-identity.js'
import { SerialSim } from '../../firmware-sim/src/serial/serial-sim.js'
import { systemClock as simClock } from '../../device-agent/dist/base/system-clock.js'
import { seededRng as simRng } from '../../device-agent/dist/base/rng.js'
import type { Hub } from '../../hub/src/hub.js'
import { REPO_ROOT, startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, type Received } from '../helpers/mqtt.js'
import { PtyPair } from '../helpers/pty.js'
import { realSerial } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

const DEVICE = 'd42'
const PASSWORD = 'pw-d42'

interface Rig { dir: string, pty: PtyPair, hub: Hub, url: string, ops: MqttClient, got: Received[] }

/** A hub with credentials (device d42, operator ops), a pty pair, an operator client on devices/#. */
async function rig(): Promise<Rig> {
  const dir = tempDir('ringhub-agent-e2e-')
  cleanups.push(dir.remove)
  const users = (args: string[]): void => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'users', 'add', ...args, '--data', join(dir.path, 'hub')], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
  }
  users([DEVICE, '--role', 'device', '--password', PASSWORD])
  users(['ops', '--role', 'operator', '--password', 'ops-pw'])
  const hub = await startHub(join(dir.path, 'hub'), { allowAnonymous: false })
  cleanups.push(() => hub.stop())
  const pty = await PtyPair.open(dir.path)
  cleanups.push(() => pty.close())
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
  const ops = await connect(url, { username: 'ops', password: 'ops-pw' })
  cleanups.push(() => close(ops))
  const got = collect(ops)
  await ops.subscribeAsync('devices/#', { qos: 1 })
  return { dir: dir.path, pty, hub, url, ops, got }
}

function startAgent(hubs: string[], port: Partial<PortConfig> & { path: string }, dir: string, lister: PortLister = { list: async () => [] }): Agent {
  const agent = Agent.start({
    hubs, outboxPath: join(dir, 'outbox.sqlite'), statsIntervalMs: 0,
    ports: [{ device: DEVICE, baud: 115200, password: PASSWORD, maxFrameBytes: 1024, partialTimeoutMs: 500, commandTimeoutMs: 5000, ...port }],
    opener: realSerial, lister, clock: systemClock, rng: seededRng(5), log: pino({ level: 'silent' }),
    serialBackoff: { initialMs: 50, maxMs: 500 }, hubBackoff: { initialMs: 50, maxMs: 500 },
  })
  cleanups.push(() => agent.stop())
  return agent
}

async function startSim(path: string, opts: { silent?: boolean } = {}): Promise<SerialSim> {
  const sim = await SerialSim.start({
    path, baudRate: 115200, device: DEVICE, clock: simClock, rng: simRng(11), intervalMs: 100, opener: realSerial, ...opts,
  })
  cleanups.push(() => sim.stop())
  return sim
}

const body = (r: Received): Record<string, unknown> => JSON.parse(r.payload) as Record<string, unknown>

describe('agent + firmware simulator on a socat pty pair + a real hub', () => {
  it('publishes telemetry on the right topics, retains state, and carries commands both ways', async () => {
    const r = await rig()
    const agent = startAgent([r.url], { path: r.pty.b }, r.dir)
    await waitFor(() => agent.bridges[0]!.link.connected && agent.bridges[0]!.serial.isOpen, 'agent connected and port open')
    const sim = await startSim(r.pty.a)

    await waitFor(() => ['temp', 'hum', 'battery', 'rssi'].every((n) => r.got.some((m) => m.topic === `devices/${DEVICE}/telemetry/${n}`)), 'every reading')
    const temps = r.got.filter((m) => m.topic === `devices/${DEVICE}/telemetry/temp`).map(body)
    expect(temps[0]).toMatchObject({ device: DEVICE, seq: expect.any(Number), ts: expect.any(Number), value: expect.any(Number), fseq: expect.any(Number) })
    expect(temps[0]!.value as number).toBeGreaterThan(10)
    expect(temps[0]!.value as number).toBeLessThan(35)
    const seqs = r.got.filter((m) => m.topic.startsWith(`devices/${DEVICE}/`) && !m.topic.endsWith('/status')).map((m) => body(m).seq as number)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(r.got.find((m) => m.topic === `devices/${DEVICE}/status`)?.payload).toBe('online')
    expect(r.got.find((m) => m.topic === `devices/${DEVICE}/info`)).toBeDefined()

    // A command from a test client reaches the firmware; the answer comes back with the correlation id.
    await r.ops.publishAsync(`devices/${DEVICE}/cmd/set`, JSON.stringify({ id: 'corr-1', args: { relay: 'on' } }), { qos: 1 })
    const res = await waitFor(() => r.got.find((m) => m.topic === `devices/${DEVICE}/cmd/set/res`), 'command response')
    expect(body(res)).toMatchObject({ device: DEVICE, id: 'corr-1', ok: true, value: { relay: 'on' } })
    expect(sim.firmware.stats.commands).toBe(1)

    // State is retained: a client that subscribes later gets the newest state at once.
    await waitFor(() => r.got.some((m) => m.topic === `devices/${DEVICE}/state` && (body(m).value as { relay?: string }).relay === 'on'), 'state after set')
    const late = await connect(r.url, { username: 'ops', password: 'ops-pw' })
    cleanups.push(() => close(late))
    const lateGot = collect(late)
    await late.subscribeAsync(`devices/${DEVICE}/state`, { qos: 1 })
    const retained = await waitFor(() => lateGot.find((m) => m.retain), 'retained state')
    expect(body(retained).value).toEqual({ relay: 'on', interval_ms: 100 })

    // An unknown command gets the firmware's error, still correlated.
    await r.ops.publishAsync(`devices/${DEVICE}/cmd/selfdestruct`, JSON.stringify({ id: 'corr-2' }), { qos: 1 })
    const err = await waitFor(() => r.got.find((m) => m.topic === `devices/${DEVICE}/cmd/selfdestruct/res`), 'error response')
    expect(body(err)).toMatchObject({ id: 'corr-2', ok: false, error: { code: 'device-error', message: 'unknown command "selfdestruct"' } })
  })

  it('answers a command to a silent device with a clear timeout error', async () => {
    const r = await rig()
    const agent = startAgent([r.url], { path: r.pty.b, commandTimeoutMs: 400 }, r.dir)
    await startSim(r.pty.a, { silent: true })
    await waitFor(() => agent.bridges[0]!.link.connected && r.got.some((m) => m.topic.includes('/telemetry/')), 'telemetry flowing')
    const sent = performance.now()
    await r.ops.publishAsync(`devices/${DEVICE}/cmd/ping`, JSON.stringify({ id: 'corr-9' }), { qos: 1 })
    const res = await waitFor(() => r.got.find((m) => m.topic === `devices/${DEVICE}/cmd/ping/res`), 'timeout response', 5_000)
    expect(performance.now() - sent).toBeGreaterThanOrEqual(390)
    expect(body(res)).toMatchObject({ id: 'corr-9', ok: false, error: { code: 'timeout', message: `device ${DEVICE} did not answer command "ping" (id corr-9) within 400 ms` } })
  })

  it('the firmware\'s disconnect fault: frames sent while its end is closed are lost on the line, counted by the firmware counter, and the flow resumes', async () => {
    const r = await rig()
    const agent = startAgent([r.url], { path: r.pty.b }, r.dir)
    const sim = await startSim(r.pty.a)
    const telemetry = (): number => r.got.filter((m) => m.topic.endsWith('/telemetry/temp')).length
    await waitFor(() => telemetry() >= 5, 'telemetry')
    sim.firmware.inject({ kind: 'disconnect', ms: 600 })
    await waitFor(() => !sim.isOpen, 'firmware end closed')
    await waitFor(() => sim.isOpen, 'firmware end open again', 5_000)
    const before = telemetry()
    await waitFor(() => telemetry() >= before + 5, 'telemetry after the disconnect')
    expect(agent.bridges[0]!.counters.get('fseq_missed')).toBeGreaterThanOrEqual(3) // ~6 frames at 100 ms
    expect(agent.bridges[0]!.serial.opens).toBe(1) // the agent's end never closed
  })

  it('reopens after unplug and replug; the status topic shows offline then online', async () => {
    const r = await rig()
    const agent = startAgent([r.url], { path: r.pty.b }, r.dir)
    const sim = await startSim(r.pty.a)
    await waitFor(() => r.got.some((m) => m.topic.includes('/telemetry/')), 'telemetry')
    const statuses = (): string[] => r.got.filter((m) => m.topic === `devices/${DEVICE}/status`).map((m) => m.payload)
    expect(statuses()).toEqual(['online'])

    await sim.stop()
    await r.pty.unplug()
    await waitFor(() => statuses().at(-1) === 'offline', 'offline on serial loss')
    expect(agent.bridges[0]!.link.connected).toBe(true) // the hub connection stays

    await r.pty.plug()
    await waitFor(() => statuses().at(-1) === 'online', 'online after replug')
    const before = r.got.length
    await startSim(r.pty.a) // stopped by the cleanups
    await waitFor(() => r.got.slice(before).some((m) => m.topic.includes('/telemetry/')), 'telemetry after replug')
    expect(statuses()).toEqual(['online', 'offline', 'online'])
    expect(agent.bridges[0]!.serial.opens).toBe(2)
  })

  it('finds the device again by USB identity when it comes back under another path', async () => {
    const r = await rig()
    await r.pty.unplug()
    await r.pty.plug('sim0', 'ttyUSB0')
    // A sysfs-shaped tree that says which USB device each tty belongs to (real ptys have none).
    const { mkdirSync, rmSync, symlinkSync, writeFileSync } = await import('node:fs')
    const sys = join(r.dir, 'sys')
    const usbDev = join(sys, 'devices/usb1/1-1')
    mkdirSync(join(usbDev, '1-1:1.0'), { recursive: true })
    writeFileSync(join(usbDev, 'idVendor'), '10c4\n')
    writeFileSync(join(usbDev, 'idProduct'), 'ea60\n')
    writeFileSync(join(usbDev, 'serial'), 'SIM-1\n')
    const attach = (name: string): void => {
      mkdirSync(join(sys, 'class/tty', name), { recursive: true })
      symlinkSync(join(usbDev, '1-1:1.0'), join(sys, 'class/tty', name, 'device'))
    }
    attach('ttyUSB0')
    const { SysfsPortLister } = await import('../../device-agent/src/serial/usb-identity.js')
    const agent = startAgent([r.url], { path: r.pty.b }, r.dir, new SysfsPortLister(sys, r.dir))
    const sim = await startSim(r.pty.a)
    await waitFor(() => agent.bridges[0]!.serial.usb !== undefined && r.got.some((m) => m.topic.includes('/telemetry/')), 'USB identity learned at open, telemetry flowing')
    expect(agent.bridges[0]!.serial.usb).toMatchObject({ vendorId: '10c4', productId: 'ea60', serialNumber: 'SIM-1' })

    await sim.stop()
    await r.pty.unplug()
    rmSync(join(sys, 'class/tty/ttyUSB0'), { recursive: true })
    await r.pty.plug('sim1', 'ttyUSB1')
    attach('ttyUSB1')
    await waitFor(() => agent.bridges[0]!.serial.openPath === join(r.dir, 'ttyUSB1'), 'reopened as ttyUSB1')
    const before = r.got.length
    await startSim(r.pty.a) // stopped by the cleanups
    await waitFor(() => r.got.slice(before).some((m) => m.topic.includes('/telemetry/')), 'telemetry from the new path')
    expect(r.got.filter((m) => m.topic.endsWith('/status')).map((m) => m.payload)).toEqual(['online', 'offline', 'online'])
  })
})
