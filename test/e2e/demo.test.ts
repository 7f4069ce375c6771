import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { REPO_ROOT, tempDir } from '../helpers/hubs.js'
import { oneRing, ringOf } from '../helpers/admin.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// `ringhub demo` (npm start) as a user runs it: one process that starts three hub processes and
// a fleet simulator process, prints where they are, and stops them all.

interface Demo {
  child: ChildProcess
  /** stdout and stderr lines so far. */
  lines: string[]
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

interface Printed {
  hubs: Array<{ id: string, pid: number, mqtt: number, admin: number }>
  fleetPid: number
}

const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

/** Whether `pid` runs; a zombie (exited, not yet reaped by whichever init adopted it) does not. */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return true // no /proc (macOS): signal 0 is all there is
  }
}

/** Pids of processes whose command line mentions `text` (no /proc: none found). */
function processesMentioning(text: string): number[] {
  let entries: string[]
  try { entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e)) } catch { return [] }
  return entries.flatMap((e) => {
    try {
      return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text) && alive(Number(e)) ? [Number(e)] : []
    } catch {
      return [] // gone meanwhile
    }
  })
}

function startDemo(args: string[]): Demo {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l))
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => lines.push(l))
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return { child, lines, exited }
}

/** Waits for the banner and reads the hub table and the fleet line from it (demo-banner.ts). */
async function printed(demo: Demo): Promise<Printed> {
  let done = false
  void demo.exited.then(() => { done = true })
  await waitFor(() => {
    if (done) throw new Error(`demo exited early:\n${demo.lines.join('\n')}`)
    return demo.lines.some((l) => l.startsWith('Ctrl-C stops everything'))
  }, 'the demo banner', 45_000, 50).catch((err: Error) => { throw new Error(`${err.message}\n${demo.lines.join('\n')}`) })
  const hubs = demo.lines.flatMap((l) => {
    const m = /^ {2}([a-z]) +(\d+) +127\.0\.0\.1:(\d+) +http:\/\/127\.0\.0\.1:(\d+)\//.exec(l)
    return m ? [{ id: m[1] as string, pid: Number(m[2]), mqtt: Number(m[3]), admin: Number(m[4]) }] : []
  })
  const fleet = demo.lines.map((l) => /^ {2}fleet pid (\d+):/.exec(l)).find((m) => m)
  const result = { hubs, fleetPid: Number(fleet?.[1]) }
  // Whatever happens to the demo, its children must not outlive the test.
  cleanups.push(async () => {
    const pids = [...hubs.map((h) => h.pid), result.fleetPid].filter((p) => Number.isInteger(p))
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
    await waitFor(() => pids.every((p) => !alive(p)), 'demo children gone', 5_000, 20).catch(() => undefined)
  })
  return result
}

describe('ringhub demo (npm start)', () => {
  it('runs three hubs in one ring and a fleet whose telemetry flows through every hub, and stops it all on Ctrl-C', async () => {
    const dir = tempDir('ringhub-demo-')
    cleanups.push(dir.remove)
    const demo = startDemo(['--devices', '20', '--ports', 'ephemeral', '--data', dir.path])
    const { hubs, fleetPid } = await printed(demo)
    expect(hubs.map((h) => h.id)).toEqual(['a', 'b', 'c'])
    expect(new Set(hubs.map((h) => h.pid)).size).toBe(3)
    expect(Number.isInteger(fleetPid)).toBe(true)
    expect(demo.lines.join('\n')).toContain(`Operator UI   http://127.0.0.1:${hubs[0]?.admin}/`)

    const views = await Promise.all(hubs.map((h) => ringOf(`127.0.0.1:${h.admin}`)))
    expect(oneRing(views, ['a', 'b', 'c'])).toBe(true)

    // Devices spread over all three hubs; hub c's subscriber sees them all, whichever hub they are on.
    const c = hubs[2] as Printed['hubs'][number]
    const sub: MqttClient = await connect(`mqtt://127.0.0.1:${c.mqtt}`, { clientId: 'demo-test-sub' })
    cleanups.push(() => close(sub))
    const got = collect(sub)
    await sub.subscribeAsync('devices/#', { qos: 0 })
    const devices = (): Set<string> => new Set(got.filter((m) => m.topic.endsWith('/telemetry/temp')).map((m) => m.topic.split('/')[1] as string))
    await waitFor(() => devices().size >= 10, 'telemetry of 10 devices on hub c', 15_000, 50)

    // The simulated devices answer commands through the admin API (the UI's command panel).
    const res = await fetch(`http://127.0.0.1:${hubs[0]?.admin}/api/devices/sim-07/commands`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ping', timeoutMs: 5_000 }),
      signal: AbortSignal.timeout(10_000),
    })
    expect(await res.json()).toMatchObject({ device: 'sim-07', name: 'ping', ok: true, value: { pong: true } })
    await close(sub)

    demo.child.kill('SIGINT')
    const exit = await Promise.race([demo.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 25_000))])
    expect(exit, demo.lines.join('\n')).toEqual({ code: 0, signal: null })
    for (const pid of [...hubs.map((h) => h.pid), fleetPid]) expect(alive(pid), `pid ${pid}`).toBe(false)
    // Each hub stopped gracefully (SIGTERM → left the ring, store flushed), not by the SIGKILL fallback.
    for (const h of hubs) expect(readFileSync(join(dir.path, h.id, 'hub.log'), 'utf8')).toContain('"msg":"hub stopped"')
    expect(demo.lines.join('\n')).toContain('Demo stopped.')
  }, 60_000)

  it('leaves no process behind when the demo itself is killed with -9', async () => {
    const dir = tempDir('ringhub-demo-')
    cleanups.push(dir.remove)
    const demo = startDemo(['--devices', '5', '--ports', 'ephemeral', '--data', dir.path])
    const { hubs, fleetPid } = await printed(demo)
    const pids = [...hubs.map((h) => h.pid), fleetPid]
    expect(pids.every(alive)).toBe(true)

    demo.child.kill('SIGKILL')
    await demo.exited
    // The children notice their IPC channel close and stop themselves (demo-watchdog.ts).
    await waitFor(() => pids.every((p) => !alive(p)), 'every child of the killed demo gone', 20_000, 50)
    // The hubs still stopped gracefully.
    for (const h of hubs) expect(readFileSync(join(dir.path, h.id, 'hub.log'), 'utf8')).toContain('"msg":"hub stopped"')
  }, 60_000)

  it('fails naming the hub that did not start, with the end of its log, and stops the hubs that did', async () => {
    const dir = tempDir('ringhub-demo-')
    cleanups.push(dir.remove)
    // Hub b's store is garbage: it exits at once with an error.
    mkdirSync(join(dir.path, 'b'))
    writeFileSync(join(dir.path, 'b', 'hub.sqlite'), Buffer.alloc(8192, 0x5a))
    const demo = startDemo(['--devices', '5', '--ports', 'ephemeral', '--data', dir.path])
    const exit = await Promise.race([demo.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))])
    const output = demo.lines.join('\n')
    expect(exit, output).toEqual({ code: 1, signal: null })
    expect(output).toContain('ringhub demo: hub b exited (exit code 1) before its "hub started" line')
    expect(output).toContain(join(dir.path, 'b', 'hub.log'))
    expect(output).toMatch(/database/)
    expect(processesMentioning(dir.path)).toEqual([])
  }, 60_000)
})
