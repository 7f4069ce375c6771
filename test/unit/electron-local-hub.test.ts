import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { LocalHubStatus } from '../../hub/src/contract/desktop-api.js'
import { LocalHub, localHubCommand, startedAdminPort, type HubProcess } from '../../ui/src/main/local-hub.js'
import { recordingLog } from '../../ui/src/main/main-log.js'
import { defaultSettings } from '../../ui/src/main/settings-fields.js'
import { waitFor } from '../helpers/wait.js'

const KEY = Buffer.alloc(32, 1).toString('base64')
const STARTED = JSON.stringify({ level: 30, msg: 'hub started', ports: { mqtt: 1883, admin: 8080, mqtts: null, gossip: 7946 } })

/** A utility process stand-in: stdout to write log lines to, kill() and exit to drive. */
function fakeProcess(pid = 4242, options: { obeysKill?: boolean } = {}) {
  const events = new EventEmitter()
  const stdout = new PassThrough()
  const killed: string[] = []
  const exit = (code: number): void => { stdout.end(); events.emit('exit', code) }
  const child: HubProcess = {
    pid,
    stdout,
    kill: () => { killed.push('TERM'); if (options.obeysKill ?? true) setImmediate(() => exit(0)); return true },
    once: (event, listener) => events.once(event, listener),
  }
  return { child, stdout, killed, exit }
}

function setup(proc = fakeProcess()) {
  const clock = new ManualClock()
  const statuses: LocalHubStatus[] = []
  const forks: Array<{ args: string[], env: Record<string, string> }> = []
  const hardKills: number[] = []
  const hub = new LocalHub({
    fork: (args, env) => { forks.push({ args, env }); return proc.child },
    killHard: (pid) => { hardKills.push(pid); proc.exit(137) },
    timers: clock,
    log: recordingLog(),
    onStatus: (s) => statuses.push(s),
    startTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
  })
  return { hub, clock, statuses, forks, hardKills, proc, states: () => statuses.map((s) => s.state) }
}

describe('local hub command', () => {
  it('runs `ringhub hub` on the app data with the ring settings, keys in the environment', () => {
    const settings = { ...defaultSettings('box'), observerId: 'desk-1', seeds: ['10.0.0.2:7946', '10.0.0.3:7946'], gossipKeys: [KEY], clusterLabel: 'plant', profile: 'edge' as const }
    const { args, env } = localHubCommand(settings, '/home/u/.config/Ringhub/local-hub')
    expect(args).toEqual(['hub', '--id', 'desk-1-hub', '--data', '/home/u/.config/Ringhub/local-hub', '--profile', 'edge', '--join', '10.0.0.2:7946,10.0.0.3:7946', '--cluster-label', 'plant'])
    expect(env).toEqual({ RINGHUB_GOSSIP_KEYS: KEY })
    expect(args.join(' ')).not.toContain(KEY)
    expect(localHubCommand(defaultSettings('box'), '/d')).toEqual({ args: ['hub', '--id', 'desktop-box-hub', '--data', '/d', '--profile', 'lan'], env: {} })
  })

  it.each([
    [STARTED, 8080],
    [JSON.stringify({ msg: 'hub started', ports: { admin: 'x' } }), undefined],
    [JSON.stringify({ msg: 'membership started' }), undefined],
    ['not json', undefined],
  ])('reads the admin port from %s', (line, port) => {
    expect(startedAdminPort(line)).toBe(port)
  })
})

describe('local hub process', () => {
  it('is running once the hub logs "hub started", with its admin URL', async () => {
    const { hub, proc, states, forks } = setup()
    const started = hub.start({ args: ['hub'], env: {} })
    proc.stdout.write('{"msg":"membership started"}\n')
    proc.stdout.write(`${STARTED}\n`)
    expect(await started).toEqual({ state: 'running', pid: 4242, adminUrl: 'http://127.0.0.1:8080/', error: null })
    expect(states()).toEqual(['starting', 'running'])
    // A second start while one runs forks nothing.
    await hub.start({ args: ['hub'], env: {} })
    expect(forks).toHaveLength(1)
  })

  it('stops gracefully: SIGTERM, then stopped once it exited', async () => {
    const { hub, proc, states } = setup()
    const started = hub.start({ args: ['hub'], env: {} })
    proc.stdout.write(`${STARTED}\n`)
    await started
    expect(await hub.stop()).toEqual({ state: 'stopped', pid: null, adminUrl: null, error: null })
    expect(proc.killed).toEqual(['TERM'])
    expect(states()).toEqual(['starting', 'running', 'stopping', 'stopped'])
  })

  it('kills a hub that ignores the graceful stop after stopTimeoutMs', async () => {
    const { hub, proc, clock, hardKills } = setup(fakeProcess(77, { obeysKill: false }))
    const started = hub.start({ args: ['hub'], env: {} })
    proc.stdout.write(`${STARTED}\n`)
    await started
    const stopping = hub.stop()
    await waitFor(() => clock.pending > 0, 'the stop deadline')
    clock.advance(10_000)
    expect((await stopping).state).toBe('stopped')
    expect(hardKills).toEqual([77])
  })

  it('fails, and stops the process, when "hub started" does not come in time', async () => {
    const { hub, clock, proc } = setup()
    const started = hub.start({ args: ['hub'], env: {} })
    await waitFor(() => clock.pending > 0, 'the start deadline')
    clock.advance(20_000)
    expect(await started).toMatchObject({ state: 'failed', error: 'did not start in time (see the log)' })
    expect(proc.killed).toEqual(['TERM'])
  })

  it('fails when the process exits before starting (e.g. better-sqlite3 built for another ABI)', async () => {
    const { hub, proc, states } = setup()
    const started = hub.start({ args: ['hub'], env: {} })
    proc.exit(1)
    expect(await started).toEqual({ state: 'failed', pid: null, adminUrl: null, error: 'exited with code 1' })
    expect(states()).toEqual(['starting', 'failed'])
  })

  it('reports a running hub that dies as failed, and can start again', async () => {
    const { hub, proc, states } = setup()
    const started = hub.start({ args: ['hub'], env: {} })
    proc.stdout.write(`${STARTED}\n`)
    await started
    proc.exit(134)
    await waitFor(() => hub.status.state === 'failed', 'the failure')
    expect(states()).toEqual(['starting', 'running', 'failed'])
    expect(hub.status.error).toBe('exited with code 134')
  })

  it('fails cleanly when the fork itself throws', async () => {
    const clock = new ManualClock()
    const hub = new LocalHub({ fork: () => { throw new Error('ENOENT bin/ringhub.js') }, killHard: () => {}, timers: clock, log: recordingLog(), onStatus: () => {} })
    expect(await hub.start({ args: [], env: {} })).toEqual({ state: 'failed', pid: null, adminUrl: null, error: 'cannot start: ENOENT bin/ringhub.js' })
    expect(await hub.stop()).toMatchObject({ state: 'failed' })
  })
})
