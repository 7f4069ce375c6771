import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { AppController, installQuitGuard, type QuitableApp } from '../../ui/src/main/app-controller.js'
import { LocalHub, type HubProcess } from '../../ui/src/main/local-hub.js'
import { recordingLog } from '../../ui/src/main/main-log.js'
import { ObserverLifecycle, type ObserverConfig } from '../../ui/src/main/observer-lifecycle.js'
import { SettingsStore } from '../../ui/src/main/settings-store.js'
import type { WindowTarget } from '../../ui/src/main/window-policy.js'
import { tempDir } from '../helpers/hubs.js'

const LOCAL = 'ringhub-app://bundle/index.html'
const dirs: Array<{ remove: () => void }> = []
afterEach(() => { for (const d of dirs.splice(0)) d.remove() })

const EMPTY_RING: RingView = { apiVersion: 1, self: 'x', checksum: '00000000', members: [] }

/** A controller over real settings (temp dir), a real lifecycle with a fake observer, a fake window. */
function setup(options: { reachable?: boolean, dir?: string, initialAdminUrl?: string } = {}) {
  const dir = options.dir === undefined ? tempDir('ringhub-desktop-') : { path: options.dir, remove: () => {} }
  dirs.push(dir)
  const log = recordingLog()
  const events: string[] = []
  const settings = new SettingsStore({ dir: dir.path, secrets: { isEncryptionAvailable: () => false, encryptString: () => Buffer.alloc(0), decryptString: () => '' }, hostname: 'box', log })
  const observer = new ObserverLifecycle({
    start: async (config: ObserverConfig) => {
      events.push(`observer start ${config.seeds.join(',')}`)
      const e = new EventEmitter()
      return { address: 'me:1', incarnation: 1, view: () => EMPTY_RING, on: (n, l) => e.on(n, l), off: (n, l) => e.off(n, l), stop: async () => { events.push('observer leave') } }
    },
    log, onStatus: () => {},
  })
  const localHub = new LocalHub({
    fork: (args) => {
      events.push(`fork ${args.join(' ')}`)
      const e = new EventEmitter()
      const stdout = new PassThrough()
      stdout.write(`${JSON.stringify({ msg: 'hub started', ports: { admin: 18080 } })}\n`)
      const child: HubProcess = { pid: 1, stdout, kill: () => { events.push('local hub TERM'); setImmediate(() => { stdout.end(); e.emit('exit', 0) }); return true }, once: (n, l) => e.once(n, l) }
      return child
    },
    killHard: () => {}, timers: new ManualClock(), log, onStatus: () => {},
  })
  const loads: WindowTarget[] = []
  let open = false
  const controller = new AppController({
    version: '0.1.0', settings, observer, localHub, localHubDataDir: '/data/local-hub',
    window: { load: async (t) => { loads.push(t); open = true }, focus: () => { events.push('focus') }, get isOpen() { return open } },
    probe: async (url) => { events.push(`probe ${url}`); return options.reachable ?? true },
    localIndexUrl: LOCAL,
    stateChanged: () => { events.push('menus') },
    initialAdminUrl: options.initialAdminUrl,
    log,
  })
  return { controller, events, loads, settings, observer, localHub, closeWindow: () => { open = false } }
}

describe('app controller', () => {
  it('uses the hub the demo passes when none is configured, and keeps a configured one', async () => {
    const first = setup({ initialAdminUrl: 'http://127.0.0.1:8080' })
    await first.controller.ready()
    expect(first.settings.current.adminUrl).toBe('http://127.0.0.1:8080')
    expect(first.events).toContain('probe http://127.0.0.1:8080')
    const dir = tempDir('ringhub-desktop-')
    dirs.push(dir)
    const configured = setup({ dir: dir.path })
    await configured.settings.load()
    await configured.settings.save({ ...configured.settings.current, adminUrl: 'http://hub-x:8080' })
    const again = setup({ dir: dir.path, initialAdminUrl: 'http://127.0.0.1:8080' })
    await again.controller.ready()
    expect(again.settings.current.adminUrl).toMatch(/^http:\/\/hub-x:8080\/?$/)
  })

  it('on first start shows the local copy with the settings prompt and runs no observer', async () => {
    const { controller, loads, events } = setup()
    await controller.ready()
    expect(loads).toEqual([{ kind: 'local', url: `${LOCAL}?reason=no-hub`, reason: 'no-hub' }])
    expect(events.filter((e) => e.startsWith('observer') || e.startsWith('probe'))).toEqual([])
    expect(controller.menuState()).toMatchObject({ hubConfigured: false, observer: { state: 'off' }, localHub: { state: 'stopped' } })
  })

  it('saving a hub and seeds loads the hub page with the token and starts the observer', async () => {
    const { controller, loads, events } = setup()
    await controller.ready()
    const view = await controller.saveSettings({ adminUrl: 'http://10.0.0.2:8080/', token: 'tok', seeds: ['10.0.0.2:7946'] })
    expect(view).toMatchObject({ adminUrl: 'http://10.0.0.2:8080/', tokenSet: true, tokenInPlainText: true, seeds: ['10.0.0.2:7946'] })
    expect(loads.at(-1)).toEqual({ kind: 'hub', url: 'http://10.0.0.2:8080/#token=tok' })
    expect(events).toContain('observer start 10.0.0.2:7946')
    expect(events.at(-1)).toBe('menus')
    expect(controller.getObserverStatus().state).toBe('running')
    expect(controller.places()).toEqual({ adminUrl: 'http://10.0.0.2:8080/', localIndexUrl: LOCAL })
  })

  it('restores the saved settings on the next start, and falls back to the local copy when the hub is down', async () => {
    const first = setup()
    await first.controller.ready()
    await first.controller.saveSettings({ adminUrl: 'http://10.0.0.2:8080/', seeds: ['10.0.0.2:7946'] })
    // Same userData directory: a restart of the app.
    const second = setup({ reachable: false, dir: first.settings.path.replace(/[/\\]settings\.json$/, '') })
    await second.controller.ready()
    expect(second.loads).toEqual([{ kind: 'local', url: `${LOCAL}?reason=unreachable`, reason: 'unreachable' }])
    expect(second.events).toContain('probe http://10.0.0.2:8080/')
    expect(second.events).toContain('observer start 10.0.0.2:7946')
  })

  it('applies concurrent saves in order, each over the previous one', async () => {
    const { controller, settings } = setup()
    await controller.ready()
    await Promise.all([
      controller.saveSettings({ adminUrl: 'http://10.0.0.2:8080/' }),
      controller.saveSettings({ token: 'tok' }),
      controller.saveSettings({ seeds: ['10.0.0.2:7946'] }),
    ])
    expect(settings.current).toMatchObject({ adminUrl: 'http://10.0.0.2:8080/', token: 'tok', seeds: ['10.0.0.2:7946'] })
    expect(await settings.load()).toMatchObject({ adminUrl: 'http://10.0.0.2:8080/', token: 'tok', seeds: ['10.0.0.2:7946'] })
  })

  it('changing only the seeds restarts the observer without reloading the window', async () => {
    const { controller, loads, events } = setup()
    await controller.ready()
    await controller.saveSettings({ adminUrl: 'http://10.0.0.2:8080/', seeds: ['10.0.0.2:7946'] })
    const loadsBefore = loads.length
    await controller.saveSettings({ seeds: ['10.0.0.3:7946'] })
    expect(loads).toHaveLength(loadsBefore)
    expect(events.filter((e) => e.startsWith('observer'))).toEqual(['observer start 10.0.0.2:7946', 'observer leave', 'observer start 10.0.0.3:7946'])
  })

  it('reconnect restarts the observer and reloads the window', async () => {
    const { controller, loads, events } = setup()
    await controller.ready()
    await controller.saveSettings({ adminUrl: 'http://10.0.0.2:8080/', seeds: ['10.0.0.2:7946'] })
    const loadsBefore = loads.length
    await controller.reconnect()
    expect(loads).toHaveLength(loadsBefore + 1)
    expect(events.filter((e) => e.startsWith('observer'))).toEqual(['observer start 10.0.0.2:7946', 'observer leave', 'observer start 10.0.0.2:7946'])
  })

  it('the tray reopens a closed window and focuses an open one', async () => {
    const { controller, loads, closeWindow } = setup()
    await controller.ready()
    await controller.showWindow()
    expect(loads).toHaveLength(1)
    closeWindow()
    await controller.showWindow()
    expect(loads).toHaveLength(2)
  })

  it('starts the local hub with the ring settings and shuts everything down once', async () => {
    const { controller, events } = setup()
    await controller.ready()
    await controller.saveSettings({ seeds: ['10.0.0.2:7946'], observerId: 'desk-1' })
    expect(await controller.startLocalHub()).toMatchObject({ state: 'running', adminUrl: 'http://127.0.0.1:18080/' })
    expect(events).toContain('fork hub --id desk-1-hub --data /data/local-hub --profile lan --join 10.0.0.2:7946')
    await Promise.all([controller.shutdown(), controller.shutdown()])
    expect(events.filter((e) => e === 'observer leave' || e === 'local hub TERM').sort()).toEqual(['local hub TERM', 'observer leave'])
    expect(controller.getLocalHubStatus().state).toBe('stopped')
  })
})

describe('quit guard', () => {
  function fakeApp(): QuitableApp & { fire: () => boolean, quits: number } {
    let listener: ((e: { preventDefault(): void }) => void) | undefined
    const app = {
      quits: 0,
      on: (_event: 'before-quit', l: (e: { preventDefault(): void }) => void) => { listener = l },
      quit: () => { app.quits++ },
      fire: () => { let prevented = false; listener?.({ preventDefault: () => { prevented = true } }); return prevented },
    }
    return app
  }

  it('holds the quit until the shutdown finished, once, then quits for real', async () => {
    const app = fakeApp()
    let finish!: () => void
    let shutdowns = 0
    installQuitGuard(app, () => { shutdowns++; return new Promise<void>((resolve) => { finish = resolve }) })
    expect(app.fire()).toBe(true)
    expect(app.fire()).toBe(true)
    expect(shutdowns).toBe(1)
    expect(app.quits).toBe(0)
    finish()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    expect(app.quits).toBe(1)
    expect(app.fire()).toBe(false)
  })

  it('quits even when the shutdown failed', async () => {
    const app = fakeApp()
    installQuitGuard(app, () => Promise.reject(new Error('leave timed out')))
    expect(app.fire()).toBe(true)
    await new Promise<void>((resolve) => { setImmediate(resolve) })
    expect(app.quits).toBe(1)
  })
})
