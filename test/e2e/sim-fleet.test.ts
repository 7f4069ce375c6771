import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { pino } from 'pino'
import { runFleet } from '../../firmware-sim/src/fleet/fleet.js'
import type { FleetSummary } from '../../firmware-sim/src/fleet/fleet.js'
import { systemClock } from '../../device-agent/dist/base/system-clock.js'
import { spawnHub, startHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { spawnRinghub, stopProcess } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []

/** The hub-kill fleet both hub-kill tests run: 200 ms telemetry at QoS 1 for 5 s, persistent
 *  sessions, a hub killed 1.5 s in; each test says how many devices, which hub, and what then. */
function hubKillFleet(o: { devices: number, hubs: string[], seed: number, prefix: string, killHub: number, restartAfterMs: number, hubControl: NonNullable<Parameters<typeof runFleet>[0]['hubControl']> }): ReturnType<typeof runFleet> {
  console.log(`fleet seed ${o.seed}`)
  return runFleet({
    devices: o.devices, hubs: o.hubs, intervalMs: 200, qos: 1, durationMs: 5000, scenario: 'hub-kill', seed: o.seed,
    scenarioOptions: { burstEveryMs: 5000, burstSize: 20, burstFraction: 0.1, churnEveryMs: 2000, churnFraction: 0.05, killAtMs: 1500, killHub: o.killHub, restartAfterMs: o.restartAfterMs },
    connectRatePerS: 1000, persistent: true, prefix: o.prefix, statsIntervalMs: 0, drainTimeoutMs: 15_000, commandIntervalMs: 0, maxUnacked: 10_000,
    clock: systemClock, log: pino({ level: 'silent' }), hubControl: o.hubControl,
  })
}
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

async function fleetCli(args: string[], deadlineMs: number): Promise<{ code: number | null, summary: FleetSummary, lines: string[] }> {
  const p = spawnRinghub(['sim', 'fleet', '--json', '-', '--stats-interval-ms', '1000', ...args])
  cleanups.push(() => stopProcess(p, 'SIGKILL'))
  const timer = setTimeout(() => p.child.kill('SIGKILL'), deadlineMs)
  const { code } = await p.exited
  clearTimeout(timer)
  const json = p.lines.filter((l) => l.startsWith('{"scenario"')).at(-1)
  expect(json, p.lines.slice(-20).join('\n')).toBeDefined()
  return { code, summary: JSON.parse(json as string) as FleetSummary, lines: p.lines }
}

describe('ringhub sim fleet', () => {
  it('keeps 1000 devices connected at QoS 1 with zero loss against a hub', async () => {
    const dir = tempDir('ringhub-fleet-')
    cleanups.push(dir.remove)
    const hub = await startHub(join(dir.path, 'hub'), { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    const seed = 1000
    console.log(`fleet seed ${seed}`)
    const { code, summary, lines } = await fleetCli(['--devices', '1000', '--hubs', `mqtt://127.0.0.1:${hub.ports.mqtt}`, '--duration-ms', '4000', '--seed', String(seed), '--command-interval-ms', '200'], 60_000)
    console.log(lines.filter((l) => !l.startsWith('{')).join('\n'))
    expect(code).toBe(0)
    expect(summary).toMatchObject({ devices: 1000, connectedAtEnd: 1000, lost: 0, duplicates: 0, unconfirmed: 0, givenUp: 0, reconnects: 0, qos: 1 })
    expect(summary.acked).toBe(summary.produced)
    expect(summary.received).toBe(summary.acked)
    expect(summary.received).toBeGreaterThanOrEqual(3500)
    expect(summary.commands.sent).toBeGreaterThanOrEqual(10)
    expect(summary.commands.answered).toBe(summary.commands.sent)
    expect(lines.some((l) => /^\[sim\] t=\S+ connected=1000\/1000 sent\/s=\d+/.test(l))).toBe(true)
  })

  it.each([
    ['churn', ['--churn-every-ms', '700'], (s: FleetSummary) => expect(s.reconnects).toBeGreaterThanOrEqual(4)],
    ['burst', ['--burst-every-ms', '700', '--burst-size', '30'], (s: FleetSummary) => expect(s.events.filter((e) => e.what === 'burst').length).toBeGreaterThanOrEqual(3)],
  ])('runs the %s scenario, seeded, with zero loss', async (scenario, extra, check) => {
    const dir = tempDir('ringhub-fleet-')
    cleanups.push(dir.remove)
    const hub = await startHub(join(dir.path, 'hub'), { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    const { code, summary } = await fleetCli(['--devices', '40', '--interval-ms', '200', '--hubs', `mqtt://127.0.0.1:${hub.ports.mqtt}`, '--duration-ms', '3000', '--seed', '77', '--scenario', scenario, ...extra], 30_000)
    expect(code).toBe(0)
    expect(summary).toMatchObject({ scenario, seed: 77, connectedAtEnd: 40, lost: 0, unconfirmed: 0 })
    expect(summary.received).toBe(summary.produced)
    check(summary)
  })

  it('hub-kill across two independent hubs: devices move to the surviving hub; no acknowledged message is lost', async () => {
    const dir = tempDir('ringhub-fleet-kill-')
    cleanups.push(dir.remove)
    const hubs: SpawnedHub[] = []
    for (const id of ['k0', 'k1']) hubs.push(await spawnHub(['--id', id, '--data', join(dir.path, id), '--allow-anonymous']))
    cleanups.push(() => Promise.all(hubs.map((h) => stopHub(h, 'SIGKILL'))))
    const urls = hubs.map((h) => `mqtt://127.0.0.1:${h.ports.mqtt}`)
    const summary = await hubKillFleet({
      devices: 200, hubs: urls, seed: 4711, prefix: 'hk', killHub: 0, restartAfterMs: 1500,
      hubControl: {
        kill: async (i) => { await stopHub(hubs[i]!, 'SIGKILL') },
        // The killed hub comes back from its SQLite file on its old port, so the observer's
        // persistent session there drains what that hub acknowledged before it died.
        restart: async (i) => {
          hubs[i] = await spawnHub(['--id', `k${i}`, '--data', join(dir.path, `k${i}`), '--allow-anonymous', '--mqtt', String(hubs[i]!.ports.mqtt)])
        },
      },
    })
    console.log(JSON.stringify(summary, null, 1))
    const kill = summary.events.find((e) => e.what === 'hub-kill')
    expect(kill).toMatchObject({ hub: 0 })
    expect(kill!.connectedDevices as number).toBeGreaterThanOrEqual(90)
    expect(summary.events.some((e) => e.what === 'hub-restart')).toBe(true)
    expect(summary.connectedAtEnd).toBe(200)
    expect(summary.perHub[urls[1]!]).toBe(200) // no failback: the moved devices stay on the survivor
    expect(summary.reconnects).toBeGreaterThanOrEqual(kill!.connectedDevices as number)
    expect(summary.unconfirmed).toBe(0)
    expect(summary.lost).toBe(0)
    expect(summary.received).toBe(summary.produced)
  })
  it('hub-kill against a ring: devices move to the surviving hubs; no acknowledged message is lost', async () => {
    const dir = tempDir('ringhub-fleet-ring-')
    cleanups.push(dir.remove)
    const hubs: SpawnedHub[] = []
    const start = async (i: number, extra: string[] = []): Promise<SpawnedHub> => spawnHub(['--id', `r${i}`, '--data', join(dir.path, `r${i}`), '--allow-anonymous', '--profile', 'edge',
      ...(i === 0 ? [] : ['--join', `127.0.0.1:${hubs[0]!.ports.gossip}`]), ...extra])
    hubs.push(await start(0))
    hubs.push(await start(1), await start(2))
    cleanups.push(() => Promise.all(hubs.map((h) => stopHub(h, 'SIGKILL'))))
    const ringOfThree = async (): Promise<boolean> => {
      const view = await (await fetch(`http://127.0.0.1:${hubs[0]!.ports.admin}/api/ring`)).json() as { members: Array<{ state: string }> }
      return view.members.filter((m) => m.state === 'alive').length === 3
    }
    await waitFor(ringOfThree, 'a ring of three', 10_000, 100)
    const urls = hubs.map((h) => `mqtt://127.0.0.1:${h.ports.mqtt}`)
    const summary = await hubKillFleet({
      devices: 150, hubs: urls, seed: 4712, prefix: 'rk', killHub: 1, restartAfterMs: 60_000,
      hubControl: {
        kill: async (i) => { await stopHub(hubs[i]!, 'SIGKILL') },
        restart: async () => { /* stays down: the ring carries on without it */ },
      },
    })
    console.log(JSON.stringify(summary, null, 1))
    const kill = summary.events.find((e) => e.what === 'hub-kill')
    expect(kill).toMatchObject({ hub: 1 })
    expect(kill!.connectedDevices as number).toBeGreaterThanOrEqual(30)
    expect(summary.connectedAtEnd).toBe(150)
    expect(summary.perHub[urls[1]!] ?? 0).toBe(0)
    expect(summary.unconfirmed).toBe(0)
    expect(summary.lost).toBe(0)
    expect(summary.received).toBe(summary.produced)
  }, 90_000)
})
