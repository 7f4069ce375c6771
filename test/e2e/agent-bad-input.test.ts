import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { PtyPair } from '../helpers/pty.js'
import { spawnRinghub, stopProcess, waitForEntry, type SpawnedProcess } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

const DEVICE = 'd9'

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1]) * 1024
}

type Stats = { devices: Record<string, { counters: Record<string, number> }> }
const counters = (p: SpawnedProcess): Record<string, number> => {
  const last = p.entries.filter((e) => e.msg === 'agent stats').at(-1) as Stats | undefined
  return last?.devices[DEVICE]?.counters ?? {}
}

describe('bad serial input', () => {
  it('random bytes, 1 MB without a newline and partial frames: the agent stays up, memory stays bounded, counters show the junk, valid frames still arrive', async () => {
    const dir = tempDir('ringhub-bad-serial-')
    cleanups.push(dir.remove)
    const hub: Hub = await startHub(join(dir.path, 'hub'), { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const sub = await connect(url)
    cleanups.push(() => close(sub))
    const got = collect(sub)
    await sub.subscribeAsync(`devices/${DEVICE}/#`, { qos: 1 })
    const pty = await PtyPair.open(dir.path)
    cleanups.push(() => pty.close())

    const agent = spawnRinghub(['agent', '--port', pty.b, '--device', DEVICE, '--hubs', url, '--outbox', join(dir.path, 'outbox.sqlite'), '--stats-interval-ms', '200'])
    cleanups.push(() => stopProcess(agent, 'SIGKILL'))
    await waitForEntry(agent, 'serial port open')
    const seed = 4242
    console.log(`firmware seed ${seed}`)
    const sim = spawnRinghub(['sim', 'serial', '--port', pty.a, '--device', DEVICE, '--interval-ms', '50', '--sensors', 'temp', '--seed', String(seed)])
    cleanups.push(() => stopProcess(sim, 'SIGKILL'))
    await waitForEntry(sim, 'sim serial started')
    const telemetry = (): number => got.filter((m) => m.topic === `devices/${DEVICE}/telemetry/temp`).length
    await waitFor(() => telemetry() >= 20, 'telemetry before the junk')
    const pid = agent.child.pid as number
    const control = (line: string): void => { sim.child.stdin?.write(line + '\n') }
    const injected = (): number => sim.entries.filter((e) => e.msg === 'fault injected').length
    let faults = 0
    /** 2 MB of random bytes and a 1 MB line without a newline, through the real pty. */
    const junk = async (): Promise<void> => {
      const read = counters(agent).serial_bytes ?? 0
      control('noise 2000000')
      control('garbage 1048576')
      faults += 2
      await waitFor(() => injected() === faults && (counters(agent).serial_bytes ?? 0) > read + 3_000_000, 'junk read', 30_000)
    }
    // Warm-up: V8's heap grows to its working size over the first ~12 MB (measured: 85 → 122 MB,
    // then flat for 30 MB more); after that, more junk must not cost more memory.
    for (let round = 0; round < 4; round++) await junk()
    const rssWarm = rssBytes(pid)
    for (let round = 0; round < 4; round++) await junk()
    const rssAfter = rssBytes(pid)
    // Partial frames: cut off by the next frame (resync), and left hanging before a silence (gap timer).
    for (let i = 0; i < 5; i++) {
      const before = telemetry()
      control('partial')
      faults++
      await waitFor(() => telemetry() > before + 1, 'a frame after the partial one')
    }
    for (let i = 0; i < 3; i++) {
      control('partial')
      control('silence 700')
      faults += 2
      await waitFor(() => injected() === faults, 'partial + silence')
      const before = telemetry()
      await waitFor(() => telemetry() > before, 'telemetry after the silence', 5_000)
    }
    const afterJunk = telemetry()
    await waitFor(() => telemetry() >= afterJunk + 20, 'valid frames after the junk', 10_000)
    await waitFor(() => (counters(agent)['dropped.partial'] ?? 0) >= 3, 'stats line with the partials', 5_000)

    const c = counters(agent)
    console.log('agent counters after the junk', c, `rss: ${Math.round(rssWarm / 1e6)} MB after 12 MB of junk, ${Math.round(rssAfter / 1e6)} MB after 12 MB more`)
    expect(agent.child.exitCode).toBeNull()
    expect(c['dropped.overlong']).toBeGreaterThanOrEqual(5)
    expect((c['dropped.noise'] ?? 0) + (c['dropped.bad-json'] ?? 0)).toBeGreaterThan(1000)
    expect(c.dropped_bytes).toBeGreaterThan(24_000_000)
    expect(c['dropped.partial']).toBeGreaterThanOrEqual(3)
    expect((c.resynced ?? 0) + (c['dropped.bad-json'] ?? 0)).toBeGreaterThanOrEqual(5)
    expect(rssAfter - rssWarm).toBeLessThan(10 * 1024 * 1024)

    // Every message that made it is well formed, in order and unique.
    const seqs = got.filter((m) => m.topic.includes('/telemetry/')).map((m) => (JSON.parse(m.payload) as { seq: number }).seq)
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b))

    // And a killed agent is reported by its will.
    agent.child.kill('SIGKILL')
    await waitFor(() => got.filter((m) => m.topic === `devices/${DEVICE}/status`).at(-1)?.payload === 'offline', 'will: offline')
  })
})
