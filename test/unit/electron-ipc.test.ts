import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { compileFunction } from 'node:vm'
import { beforeEach, describe, expect, it } from 'vitest'
import type { DesktopApi, DesktopIpcInvokeChannel, LocalHubStatus, ObserverStatus } from '../../hub/src/contract/desktop-api.js'
import { dispatch, HANDLERS, INVOKE_CHANNELS, IpcArgumentError, registerIpc, type DesktopBackend, type IpcMainLike } from '../../ui/src/main/ipc-handlers.js'
import { recordingLog } from '../../ui/src/main/main-log.js'
import type { TrustedPlaces } from '../../ui/src/main/window-policy.js'
import { REPO_ROOT } from '../helpers/hubs.js'

const PLACES: TrustedPlaces = { adminUrl: 'http://10.0.0.2:8080/', localIndexUrl: 'ringhub-app://bundle/index.html' }
const HUB_PAGE = 'http://10.0.0.2:8080/#token=abc'
const LOCAL_PAGE = 'ringhub-app://bundle/index.html?reason=no-hub'
const OBSERVER: ObserverStatus = { state: 'off', address: null, error: null, ring: null }
const LOCAL_HUB: LocalHubStatus = { state: 'stopped', pid: null, adminUrl: null, error: null }

function fakeBackend(): DesktopBackend & { calls: Array<[string, unknown[]]> } {
  const calls: Array<[string, unknown[]]> = []
  const record = <T>(name: string, value: T) => (...args: unknown[]): T => { calls.push([name, args]); return value }
  return {
    calls,
    appVersion: record('appVersion', '0.1.0'),
    getSettings: record('getSettings', { adminUrl: null, tokenSet: false, tokenInPlainText: false, seeds: [], gossipKeysSet: 0, clusterLabel: '', observerId: 'd', profile: 'lan' as const }),
    saveSettings: record('saveSettings', Promise.resolve({ adminUrl: 'http://h:1/', tokenSet: false, tokenInPlainText: false, seeds: [], gossipKeysSet: 0, clusterLabel: '', observerId: 'd', profile: 'lan' as const })),
    getObserverStatus: record('getObserverStatus', OBSERVER),
    reconnect: record('reconnect', Promise.resolve()),
    getLocalHubStatus: record('getLocalHubStatus', LOCAL_HUB),
    startLocalHub: record('startLocalHub', Promise.resolve(LOCAL_HUB)),
    stopLocalHub: record('stopLocalHub', Promise.resolve(LOCAL_HUB)),
  }
}

async function refusal(promise: Promise<unknown>): Promise<IpcArgumentError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(IpcArgumentError)
  return err as IpcArgumentError
}

describe('IPC dispatch', () => {
  it.each(INVOKE_CHANNELS.filter((c) => c !== 'ringhub:save-settings'))('%s takes no argument and reaches the backend', async (channel) => {
    const backend = fakeBackend()
    await dispatch(backend, PLACES, channel, HUB_PAGE, [])
    expect(backend.calls).toHaveLength(1)
    const err = await refusal(dispatch(backend, PLACES, channel, HUB_PAGE, ['extra']))
    expect(err.message).toBe(`${channel}: expected 0 arguments, got 1`)
    expect(backend.calls).toHaveLength(1)
  })

  it('passes validated, normalised settings to the backend', async () => {
    const backend = fakeBackend()
    const result = await dispatch(backend, PLACES, 'ringhub:save-settings', LOCAL_PAGE, [{ adminUrl: 'http://h:1', seeds: ['h:7946'] }])
    expect(backend.calls).toEqual([['saveSettings', [{ adminUrl: 'http://h:1/', seeds: ['h:7946'] }]]])
    expect(result).toMatchObject({ adminUrl: 'http://h:1/' })
  })

  it.each([
    ['no argument', [], 'ringhub:save-settings: expected 1 argument, got 0'],
    ['two arguments', [{}, {}], 'ringhub:save-settings: expected 1 argument, got 2'],
    ['a string', ['http://h:1'], 'ringhub:save-settings: settings: expected an object, got string'],
    ['an ftp URL', [{ adminUrl: 'ftp://h:1' }], 'ringhub:save-settings: adminUrl: scheme must be http or https, got ftp'],
    ['a token with a quote', [{ token: 'a"b' }], 'ringhub:save-settings: token: only letters, digits and - . _ ~ + / = are allowed'],
    ['an oversized token', [{ token: 'x'.repeat(10_000) }], 'ringhub:save-settings: token: longer than 512 characters'],
    ['a bad seed', [{ seeds: ['h1:99999'] }], 'ringhub:save-settings: seeds[0]: expected host:port with a port in 1…65535 (IPv6 in brackets)'],
    ['an unknown field', [{ nodeIntegration: true }], 'ringhub:save-settings: nodeIntegration: unknown setting'],
  ])('refuses save-settings with %s and changes nothing', async (_name, args, message) => {
    const backend = fakeBackend()
    const err = await refusal(dispatch(backend, PLACES, 'ringhub:save-settings', HUB_PAGE, args))
    expect(err.message).toBe(message)
    expect(backend.calls).toEqual([])
  })

  it.each([
    ['another origin', 'http://evil.example/'],
    ['the hub host on another port', 'http://10.0.0.2:8081/'],
    ['https instead of http', 'https://10.0.0.2:8080/'],
    ['another file', 'file:///tmp/evil.html'],
    ['the bundled copy as a file', 'file:///opt/ringhub/ui/dist/renderer/index.html'],
    ['the app scheme, another host', 'ringhub-app://other/index.html'],
    ['a data URL', 'data:text/html,<script>1</script>'],
    ['no frame', undefined],
  ])('refuses calls from %s', async (_name, sender) => {
    const backend = fakeBackend()
    const err = await refusal(dispatch(backend, PLACES, 'ringhub:get-settings', sender, []))
    expect(err.message).toContain('ringhub:get-settings: refused: the calling page')
    expect(backend.calls).toEqual([])
  })

  it('registers one handler per channel that checks the sender frame, and removes them', async () => {
    const handlers = new Map<string, Parameters<IpcMainLike['handle']>[1]>()
    const ipcMain: IpcMainLike = { handle: (channel, listener) => { handlers.set(channel, listener) }, removeHandler: (channel) => { handlers.delete(channel) } }
    const backend = fakeBackend()
    const log = recordingLog()
    const remove = registerIpc({ ipcMain, backend, places: () => PLACES, log })
    expect([...handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort())
    const call = handlers.get('ringhub:app-version') as Parameters<IpcMainLike['handle']>[1]
    expect(await call({ senderFrame: { url: HUB_PAGE } })).toBe('0.1.0')
    await expect(Promise.resolve(call({ senderFrame: { url: 'http://evil.example/' } }))).rejects.toThrow(IpcArgumentError)
    expect(log.entries.map((e) => e.msg)).toEqual(['IPC call refused'])
    remove()
    expect(handlers.size).toBe(0)
  })
})

// The built preload (what Electron loads), run the way a sandboxed preload runs: CommonJS with a
// `require` that offers only `electron` (a fake here) and throws for anything else.
const bridge = {
  exposed: new Map<string, unknown>(),
  invoked: [] as Array<[string, unknown[]]>,
  listeners: new Map<string, Set<(event: unknown, payload: unknown) => void>>(),
}
const fakeElectron = {
  contextBridge: { exposeInMainWorld: (name: string, api: unknown) => { bridge.exposed.set(name, api) } },
  ipcRenderer: {
    invoke: (channel: string, ...args: unknown[]) => { bridge.invoked.push([channel, args]); return Promise.resolve(`reply:${channel}`) },
    on: (channel: string, l: (event: unknown, payload: unknown) => void) => {
      const set = bridge.listeners.get(channel) ?? new Set()
      set.add(l)
      bridge.listeners.set(channel, set)
    },
    removeListener: (channel: string, l: (event: unknown, payload: unknown) => void) => { bridge.listeners.get(channel)?.delete(l) },
  },
}
const PRELOAD = join(REPO_ROOT, 'ui/dist/preload/preload.cjs')

function runPreload(): void {
  const run = compileFunction(readFileSync(PRELOAD, 'utf8'), ['require', 'exports', 'module'], { filename: PRELOAD })
  const sandboxRequire = (name: string): unknown => {
    if (name === 'electron') return fakeElectron
    throw new Error(`a sandboxed preload cannot require ${name}`)
  }
  const module = { exports: {} }
  run(sandboxRequire, module.exports, module)
}

describe('preload', () => {
  beforeEach(() => {
    bridge.exposed.clear()
    bridge.invoked.length = 0
    bridge.listeners.clear()
    runPreload()
  })

  function api(): DesktopApi {
    expect([...bridge.exposed.keys()]).toEqual(['ringhub'])
    return bridge.exposed.get('ringhub') as DesktopApi
  }

  it('exposes window.ringhub whose every call goes to a channel main handles, with its arguments', async () => {
    const ringhub = api()
    expect(ringhub.apiVersion).toBe(1)
    await ringhub.appVersion()
    await ringhub.getSettings()
    await ringhub.saveSettings({ adminUrl: 'http://h:1/' })
    await ringhub.getObserverStatus()
    await ringhub.reconnect()
    await ringhub.getLocalHubStatus()
    await ringhub.startLocalHub()
    expect(await ringhub.stopLocalHub()).toBe('reply:ringhub:stop-local-hub')
    const channels = bridge.invoked.map(([channel]) => channel)
    expect([...channels].sort()).toEqual([...INVOKE_CHANNELS].sort())
    for (const [channel, args] of bridge.invoked) expect(args).toHaveLength(HANDLERS[channel as DesktopIpcInvokeChannel].args.length)
    expect(bridge.invoked.find(([c]) => c === 'ringhub:save-settings')?.[1]).toEqual([{ adminUrl: 'http://h:1/' }])
  })

  it('hands listeners the payload only, never the IPC event, and unsubscribes', () => {
    const ringhub = api()
    const seen: unknown[][] = []
    const off = ringhub.onObserverStatus((...args: unknown[]) => { seen.push(args) })
    ringhub.onLocalHubStatus(() => {})
    const [listener] = [...(bridge.listeners.get('ringhub:observer-status') ?? [])]
    listener?.({ sender: 'the ipcRenderer' }, OBSERVER)
    expect(seen).toEqual([[OBSERVER]])
    off()
    expect(bridge.listeners.get('ringhub:observer-status')?.size).toBe(0)
    expect(bridge.listeners.get('ringhub:local-hub-status')?.size).toBe(1)
    expect(() => ringhub.onObserverStatus('x' as unknown as () => void)).toThrow(TypeError)
  })

  it('requires nothing but electron at run time (a sandboxed preload cannot)', () => {
    const source = readFileSync(join(REPO_ROOT, 'ui/src/preload/preload.cts'), 'utf8')
    const runtimeImports = [...source.matchAll(/^import\s+(?!type\b)(.+?)$/gm)].map((m) => m[1])
    expect(runtimeImports).toEqual(["electron = require('electron')"])
    expect(source).not.toMatch(/\brequire\((?!'electron'\))/)
  })
})
