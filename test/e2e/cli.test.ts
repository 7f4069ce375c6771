import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { REPO_ROOT, spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'

const BIN = join(REPO_ROOT, 'bin/ringhub.js')

function ringhub(args: string[], input?: string, env: NodeJS.ProcessEnv = {}): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 15_000, env: { ...process.env, ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.()
})

describe('ringhub CLI', () => {
  it('manages users that a running hub then authenticates', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    expect(ringhub(['users', 'add', 'd42', '--role', 'device', '--password', 'pw1', '--data', dir.path]).code).toBe(0)
    expect(ringhub(['users', 'add', 'ops', '--role', 'operator', '--password', '-', '--data', dir.path], 'from-stdin\n').code).toBe(0)
    const list = ringhub(['users', 'list', '--data', dir.path])
    expect(list.code).toBe(0)
    expect(list.stdout.split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual(['d42 device', 'ops operator'])

    const hub: SpawnedHub = await spawnHub(['--id', 'c1', '--data', dir.path])
    cleanups.push(() => stopHub(hub))
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const ops = await connect(url, { username: 'ops', password: 'from-stdin' })
    cleanups.push(() => close(ops))
    await expect(connect(url, { username: 'd42', password: 'wrong' })).rejects.toThrow(/Bad username or password/i)

    expect(ringhub(['users', 'remove', 'd42', '--data', dir.path]).code).toBe(0)
    expect(ringhub(['users', 'remove', 'd42', '--data', dir.path]).code).toBe(1)
    await expect(connect(url, { username: 'd42', password: 'pw1' })).rejects.toThrow(/Bad username or password/i)
  })

  it.each([
    [['users', 'add', 'bad name!', '--role', 'device', '--password', 'x'], /bad name!/],
    [['users', 'add', 'd1', '--role', 'admin', '--password', 'x'], /--role device\|operator/],
    [['hub', '--mqtt', 'seventy'], /config mqtt: "seventy" is not an integer/],
    [['hub', '--frobnicate'], /--frobnicate: unknown option/],
    [['nonsense'], /unknown command "nonsense"/],
  ])('refuses %j with exit code 2 and a clear message', (args, message) => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const r = ringhub([...args, ...(args[0] === 'users' ? ['--data', dir.path] : [])])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('prints every option with its default and environment variable in hub --help', () => {
    const r = ringhub(['hub', '--help'])
    expect(r.code).toBe(0)
    for (const flag of ['--mqtt', '--admin', '--mqtts', '--tls-cert', '--tls-key', '--host', '--id', '--data', '--config', '--allow-anonymous']) {
      expect(r.stdout).toContain(flag)
    }
    expect(r.stdout).toContain('RINGHUB_MAX_PACKET_BYTES')
  })

  it('takes options from a YAML file and RINGHUB_* variables, flags winning', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const yaml = join(dir.path, 'hub.yaml')
    writeFileSync(yaml, `id: from-yaml\ndata: ${JSON.stringify(dir.path)}\nallowAnonymous: false\nmaxPacketBytes: 2048\n`)
    const hub = await spawnHub(['--config', yaml, '--allow-anonymous'], { env: { RINGHUB_ID: 'from-env' } })
    cleanups.push(() => stopHub(hub))
    const info = await (await fetch(`http://127.0.0.1:${hub.ports.admin}/api/hub`)).json() as { id: string, allowAnonymous: boolean, maxPacketBytes: number }
    expect(info).toMatchObject({ id: 'from-env', allowAnonymous: true, maxPacketBytes: 2048 })
  })
})
