import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { claimDataDir } from '../../hub/src/cli/demo-lock.js'
import { desktopEntry, electronBinary } from '../../hub/src/cli/demo-desktop.js'
import { tempDir } from '../helpers/hubs.js'
import { ConfigError } from '../../hub/src/base/errors.js'
import { hubIds, parseDemoArgs, wishedPorts } from '../../hub/src/cli/demo-options.js'
import { ringFailure, startedPorts, type Sight } from '../../hub/src/cli/demo-ring.js'
import { firstDevice, fleetArgs, fleetConnected, FLEET_RUN_MS } from '../../hub/src/cli/demo-fleet.js'
import { ringChanges } from '../../hub/src/cli/demo-watch.js'
import type { RingMemberState, RingView } from '../../hub/src/contract/ring-view.js'
import type { DemoHub } from '../../hub/src/cli/demo-ring.js'

describe('ringhub demo flags', () => {
  it('defaults to 3 hubs, 200 devices, the well-known ports and ./data/demo', () => {
    expect(parseDemoArgs([])).toEqual({
      hubs: 3, devices: 200, ports: 'default', mqtt: 1883, admin: 8080, data: './data/demo', fresh: false, desktop: true,
      ringDeadlineMs: 30_000, stopDeadlineMs: 10_000, help: false,
    })
  })

  it.each([
    [['--devices', '20'], { devices: 20 }],
    [['--devices=0'], { devices: 0 }],
    [['--hubs', '5'], { hubs: 5 }],
    [['--ports', 'ephemeral'], { ports: 'ephemeral' }],
    [['--mqtt', '11883', '--admin', '18080'], { mqtt: 11883, admin: 18080 }],
    [['--data', '/tmp/x', '--fresh'], { data: '/tmp/x', fresh: true }],
    [['--help'], { help: true }],
    [['--no-desktop'], { desktop: false }],
  ])('%j', (argv, expected) => {
    expect(parseDemoArgs(argv)).toMatchObject(expected)
  })

  it.each([
    [['--hubs', '0'], '--hubs'],
    [['--hubs', '10'], '--hubs'],
    [['--devices', '-1'], '--devices'],
    [['--devices'], '--devices'],
    [['--ports', 'fixed'], '--ports'],
    [['--mqtt', '70000'], '--mqtt'],
    [['--data', ''], '--data'],
    [['--nope', '1'], '--nope'],
  ])('refuses %j naming the flag', (argv, flag) => {
    expect(() => parseDemoArgs(argv)).toThrow(ConfigError)
    expect(() => parseDemoArgs(argv)).toThrow(flag)
  })

  it('names hubs a, b, c, …', () => {
    expect(hubIds(3)).toEqual(['a', 'b', 'c'])
    expect(hubIds(9).at(-1)).toBe('i')
  })
})

describe('demo ports', () => {
  const defaults = parseDemoArgs([])
  it.each([
    [0, { mqtt: 1883, admin: 8080, gossip: 7946, interHub: 7947 }],
    [1, { mqtt: 1884, admin: 8081, gossip: 7948, interHub: 7949 }],
    [2, { mqtt: 1885, admin: 8082, gossip: 7950, interHub: 7951 }],
  ])('hub %i asks for predictable ports by default', (index, ports) => {
    expect(wishedPorts(defaults, index)).toEqual(ports)
  })

  it('asks for ephemeral ports everywhere with --ports ephemeral, and past 65535', () => {
    expect(wishedPorts(parseDemoArgs(['--ports', 'ephemeral']), 1)).toEqual({ mqtt: 0, admin: 0, gossip: 0, interHub: 0 })
    expect(wishedPorts(parseDemoArgs(['--mqtt', '65535']), 1).mqtt).toBe(0)
    expect(wishedPorts(parseDemoArgs(['--admin', '0']), 2).admin).toBe(0)
  })
})

describe('demo output parsing', () => {
  it.each([
    ['{"level":30,"msg":"hub started","ports":{"mqtt":1,"admin":2,"mqtts":null,"gossip":3}}', { mqtt: 1, admin: 2, mqtts: null, gossip: 3 }],
    ['{"level":30,"msg":"membership started"}', undefined],
    ['{"msg":"hub started"}', undefined],
    ['hub started, not JSON', undefined],
  ])('startedPorts(%s)', (line, ports) => {
    expect(startedPorts(line)).toEqual(ports)
  })

  it.each([
    ['[sim] t=4.0s connected=200/200 sent/s=199 received/s=201 reconnects=0 unacked=0', { connected: 200, devices: 200 }],
    ['[sim] t=1.5s connected=7/20 sent/s=0 received/s=0 reconnects=0 unacked=0', { connected: 7, devices: 20 }],
    ['[sim] fleet: 20 devices, scenario steady, seed 5', undefined],
  ])('fleetConnected(%s)', (line, stats) => {
    expect(fleetConnected(line)).toEqual(stats)
  })

  it.each([[200, 'sim-001'], [20, 'sim-01'], [5, 'sim-1'], [1000, 'sim-0001']])('the first of %i devices is %s (the simulator pads to the count)', (n, name) => {
    expect(firstDevice(n)).toBe(name)
  })

  it('runs the steady fleet against every hub for less than a Node timer can hold', () => {
    const hub = (mqtt: number): DemoHub => ({ id: 'x', ports: { mqtt, admin: 1, gossip: 2 } } as unknown as DemoHub)
    const args = fleetArgs(20, [hub(1), hub(2)])
    expect(args.slice(0, 4)).toEqual(['sim', 'fleet', '--devices', '20'])
    expect(args[args.indexOf('--hubs') + 1]).toBe('mqtt://127.0.0.1:1,mqtt://127.0.0.1:2')
    expect(args[args.indexOf('--scenario') + 1]).toBe('steady')
    expect(FLEET_RUN_MS).toBeLessThanOrEqual(2 ** 31 - 1)
  })
})

describe('ring changes printed while the demo runs', () => {
  const view = (checksum: string, states: Record<string, RingMemberState>): RingView => ({
    apiVersion: 1, self: 'a', checksum,
    members: Object.entries(states).map(([id, state]) => ({ id, state, incarnation: 1, addresses: { gossip: 'x:1' }, meta: {}, share: state === 'alive' || state === 'suspect' ? 0.5 : 0 })),
  })

  it.each([
    ['nothing before the first view', undefined, view('1', { a: 'alive' }), []],
    ['nothing when nothing changed', view('1', { a: 'alive', b: 'alive' }), view('1', { a: 'alive', b: 'alive' }), []],
    ['a suspicion', view('1', { a: 'alive', b: 'alive' }), view('1', { a: 'alive', b: 'suspect' }), ['[ring] hub b: alive → suspect (as hub a sees it)']],
    ['a death and the ownership move', view('1', { a: 'alive', b: 'suspect' }), view('2', { a: 'alive', b: 'dead' }),
      ['[ring] hub b: suspect → dead (as hub a sees it)', '[ring] ownership moved: checksum 1 → 2; keyspace a 50.0%']],
    ['a join', view('1', { a: 'alive' }), view('2', { a: 'alive', c: 'alive' }),
      ['[ring] hub c: unknown → alive (as hub a sees it)', '[ring] ownership moved: checksum 1 → 2; keyspace a 50.0%, c 50.0%']],
  ])('%s', (_what, prev, next, lines) => {
    expect(ringChanges(prev, next)).toEqual(lines)
  })
})

describe('one demo per data directory', () => {
  it('refuses a directory a running demo holds, takes over one whose demo is gone, and releases it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-demo-lock-'))
    try {
      const pidFile = join(dir, 'demo.pid')
      writeFileSync(pidFile, `${process.ppid}\n`) // a process that surely runs
      expect(() => claimDataDir(dir)).toThrow(`another demo (pid ${process.ppid}) is using ${dir}`)
      writeFileSync(pidFile, '99999999\n') // above any pid_max: a demo killed long ago
      const release = claimDataDir(dir)
      expect(readFileSync(pidFile, 'utf8')).toBe(`${process.pid}\n`)
      release()
      expect(existsSync(pidFile)).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the message when the ring does not form', () => {
  const hub = (id: string): DemoHub => ({ id, ports: { mqtt: 1, admin: 8000 + id.charCodeAt(0), gossip: 2 }, process: { logPath: `/d/${id}/hub.log` } } as unknown as DemoHub)
  const hubs = ['a', 'b', 'c'].map(hub)

  it.each([
    ['a hub that never joined', [{ alive: ['a', 'c'], checksum: '1' }, { alive: ['b'], checksum: '2' }, { alive: ['a', 'c'], checksum: '1' }], 'hub b did not come up in every view'],
    ['a hub whose admin API does not answer', [{ alive: ['a', 'b', 'c'], checksum: '1' }, { alive: ['a', 'b', 'c'], checksum: '1' }, { error: 'fetch failed' }], 'hub c did not come up in every view'],
    ['two hubs missing', [{ alive: ['a'], checksum: '1' }, { alive: ['b'], checksum: '2' }, { alive: ['c'], checksum: '3' }], 'hubs a, b, c did not come up in every view'],
    ['views that disagree on the checksum only', [{ alive: ['a', 'b', 'c'], checksum: '1' }, { alive: ['a', 'b', 'c'], checksum: '2' }, { alive: ['a', 'b', 'c'], checksum: '1' }], 'the hubs did not agree on one checksum'],
  ] as Array<[string, Sight[], string]>)('names %s', (_what, sights, who) => {
    const text = ringFailure(hubs, sights, 30_000)
    expect(text).toContain(`the ring did not form within 30000 ms: ${who}`)
    // One line per hub, with where to look.
    for (const h of hubs) expect(text).toContain(`hub ${h.id} (admin 127.0.0.1:${h.ports.admin}, log /d/${h.id}/hub.log)`)
  })
})

describe('the demo\'s desktop app', () => {
  it('starts only an Electron binary that was downloaded, and says why not otherwise', () => {
    const dir = tempDir('ringhub-electron-')
    try {
      expect(electronBinary(dir.path)).toEqual({ missing: 'the electron package is not installed' })
      mkdirSync(join(dir.path, 'node_modules', 'electron', 'dist'), { recursive: true })
      expect(electronBinary(dir.path)).toMatchObject({ missing: expect.stringContaining('not downloaded') as string })
      writeFileSync(join(dir.path, 'node_modules', 'electron', 'path.txt'), 'electron')
      expect(electronBinary(dir.path)).toMatchObject({ missing: expect.stringContaining('not an executable') as string })
      writeFileSync(join(dir.path, 'node_modules', 'electron', 'dist', 'electron'), '#!/bin/sh\n', { mode: 0o755 })
      expect(electronBinary(dir.path)).toEqual({ path: join(dir.path, 'node_modules', 'electron', 'dist', 'electron') })
      expect(desktopEntry(dir.path)).toBeUndefined()
    } finally {
      dir.remove()
    }
  })
})

