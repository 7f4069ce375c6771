import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT, startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { PtyPair } from '../helpers/pty.js'
import { spawnRinghub, stopProcess } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const BIN = join(REPO_ROOT, 'bin/ringhub.js')
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

function ringhub(args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('ringhub agent / ringhub sim on the command line', () => {
  it('lists agent and sim in the usage and documents every option in --help', () => {
    expect(ringhub(['--help']).stdout).toMatch(/ringhub agent --port PATH[\s\S]*ringhub sim serial[\s\S]*ringhub sim fleet/)
    const agent = ringhub(['agent', '--help'])
    expect(agent.code).toBe(0)
    for (const flag of ['--port', '--usb', '--baud', '--device', '--hubs', '--outbox', '--max-outbox-messages', '--max-frame-bytes', '--command-timeout-ms', '--config']) expect(agent.stdout).toContain(flag)
    expect(ringhub(['sim', 'serial', '--help']).stdout).toContain('--dialect')
    expect(ringhub(['sim', 'fleet', '--help']).stdout).toContain('--scenario')
  })

  it.each([
    [['agent', '--device', 'd1'], /ringhub agent: config port: required/],
    [['agent', '--port', '/dev/null', '--device', 'd1', '--hubs', 'http://x'], /not an mqtt/],
    [['sim', 'serial'], /--port: required/],
    [['sim', 'fleet', '--scenario', 'meteor'], /--scenario: one of steady, burst, churn, hub-kill/],
    [['sim', 'fleet', '--scenario', 'hub-kill'], /hub-kill needs the hubs' process ids/],
    [['sim', 'warp'], /unknown sim command "warp"/],
  ])('refuses %j with exit code 2 and a clear message', (args, message) => {
    const r = ringhub(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('runs agent (from a YAML file, two ports) and sim serial (JSON and key=value dialects) as processes on pty pairs', async () => {
    const dir = tempDir('ringhub-cli-agent-')
    cleanups.push(dir.remove)
    const hub = await startHub(join(dir.path, 'hub'), { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    const sub = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    cleanups.push(() => close(sub))
    const got = collect(sub)
    await sub.subscribeAsync('devices/kv1/#', { qos: 1 })
    await sub.subscribeAsync('devices/js1/#', { qos: 1 })
    const pty = await PtyPair.open(dir.path)
    cleanups.push(() => pty.close())
    const pty2 = await PtyPair.open(dir.path, 'sim2', 'agent2')
    cleanups.push(() => pty2.close())
    const yaml = join(dir.path, 'agent.yaml')
    writeFileSync(yaml, `hubs: [mqtt://127.0.0.1:${hub.ports.mqtt}]\noutbox: ${join(dir.path, 'outbox.sqlite')}\nbaud: 9600\nports:\n  - { path: ${pty.b}, device: kv1 }\n  - { path: ${pty2.b}, device: js1, baud: 57600 }\n`)
    const agent = spawnRinghub(['agent', '--config', yaml])
    cleanups.push(() => stopProcess(agent))
    await waitFor(() => agent.entries.filter((e) => e.msg === 'serial port open').length === 2, 'both ports open')
    const sim2 = spawnRinghub(['sim', 'serial', '--port', pty2.a, '--device', 'js1', '--baud', '57600', '--interval-ms', '50', '--seed', '10'])
    cleanups.push(() => stopProcess(sim2))
    await waitFor(() => got.filter((m) => m.topic === 'devices/js1/telemetry/rssi').length >= 3, 'JSON telemetry of the second device')
    const sim = spawnRinghub(['sim', 'serial', '--port', pty.a, '--device', 'kv1', '--dialect', 'kv', '--interval-ms', '50', '--sensors', 'temp,hum', '--seed', '9'])
    cleanups.push(() => stopProcess(sim))
    await waitFor(() => got.filter((m) => m.topic === 'devices/kv1/telemetry/hum').length >= 3, 'key=value telemetry at the hub')
    const temp = JSON.parse(got.find((m) => m.topic === 'devices/kv1/telemetry/temp')!.payload) as Record<string, unknown>
    expect(temp).toMatchObject({ device: 'kv1', seq: expect.any(Number), value: expect.any(Number) })
    expect(temp.fseq).toBeUndefined() // the dialect has no frame counter

    // SIGTERM: the agent says offline (retained) and exits 0; the sim prints its stats.
    expect((await stopProcess(agent)).code).toBe(0)
    await waitFor(() => got.filter((m) => m.topic === 'devices/kv1/status').at(-1)?.payload === 'offline', 'offline on a clean stop')
    sim.child.stdin?.end('quit\n')
    expect((await sim.exited).code).toBe(0)
    expect(sim.entries.find((e) => e.msg === 'sim serial stopped')).toMatchObject({ stats: { telemetry: expect.any(Number) } })
  })
})
