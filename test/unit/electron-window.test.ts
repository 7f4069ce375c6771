import { describe, expect, it } from 'vitest'
import { hardenSession, MainWindow, type CancellableEvent, type SessionLike, type WindowLike } from '../../ui/src/main/app-window.js'
import { recordingLog } from '../../ui/src/main/main-log.js'
import type { RingMemberView } from '../../hub/src/contract/ring-view.js'
import { channelSources, contentSecurityPolicy, isTrustedUrl, probeHub, webPreferences, windowTarget, type TrustedPlaces } from '../../ui/src/main/window-policy.js'

const LOCAL = 'ringhub-app://bundle/index.html'
const PLACES: TrustedPlaces = { adminUrl: 'http://10.0.0.2:8080/', localIndexUrl: LOCAL }

describe('window policy', () => {
  it('runs the renderer sandboxed, context-isolated, without Node', () => {
    expect(webPreferences('/p/preload.cjs')).toMatchObject({
      preload: '/p/preload.cjs', sandbox: true, contextIsolation: true, nodeIntegration: false,
      nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true,
      allowRunningInsecureContent: false, webviewTag: false,
    })
  })

  it('has a strict CSP: own scripts only, data from the hub only', () => {
    const csp = contentSecurityPolicy('http://10.0.0.2:8080')
    const directives = Object.fromEntries(csp.split('; ').map((d) => { const [name, ...values] = d.split(' '); return [name, values.join(' ')] }))
    expect(directives).toMatchObject({
      'default-src': "'self'", 'script-src': "'self'", 'object-src': "'none'", 'base-uri': "'none'", 'frame-ancestors': "'none'",
      'connect-src': "'self' http://10.0.0.2:8080 ws://10.0.0.2:8080",
    })
    expect(csp).not.toContain('unsafe-eval')
    expect(csp).not.toContain('unsafe-inline')
    expect(contentSecurityPolicy('https://ring.example')).toContain("connect-src 'self' https://ring.example wss://ring.example")
    expect(contentSecurityPolicy(null)).toContain("connect-src 'self';")
  })

  it('lets the live views\' channel client reach the ring\'s other hubs at /channels only, from well-formed gossiped addresses', () => {
    const m = (id: string, admin: string | undefined, state: RingMemberView['state'] = 'alive', role = 'hub'): RingMemberView =>
      ({ id, state, incarnation: 1, addresses: { gossip: 'g:1', ...(admin === undefined ? {} : { admin }) }, meta: { role }, share: 0 })
    const ring = { apiVersion: 1 as const, self: 'a', checksum: '0', members: [
      m('a', '10.0.0.2:8080'), m('b', '10.0.0.3:8080'), m('c', 'gw-c.local:8080', 'dead'), m('d', '[fd00::4]:8080', 'suspect'),
      m('e', '10.0.0.5:8080', 'left'), m('o', '10.0.0.9:8080', 'alive', 'observer'), m('f', undefined),
      // A peer's metadata trying to widen the policy: refused.
      m('x', "evil:1; script-src 'unsafe-inline'"), m('y', 'evil:1 https://x'), m('z', 'evil/path:1'),
    ] }
    // (CSP has no IPv6 literal: [fd00::4] is left out.)
    expect(channelSources(ring, 'http://10.0.0.2:8080')).toEqual(['ws://10.0.0.3:8080/channels', 'ws://gw-c.local:8080/channels'])
    expect(channelSources(ring, 'https://10.0.0.2:8080')).toEqual(['wss://10.0.0.3:8080/channels', 'wss://gw-c.local:8080/channels'])
    expect(channelSources(null, 'http://10.0.0.2:8080')).toEqual([])
    expect(channelSources(ring, null)).toEqual([])
    const csp = contentSecurityPolicy('http://10.0.0.2:8080', channelSources(ring, 'http://10.0.0.2:8080'))
    expect(csp).toContain("connect-src 'self' http://10.0.0.2:8080 ws://10.0.0.2:8080 ws://10.0.0.3:8080/channels ws://gw-c.local:8080/channels;")
    expect(csp).not.toContain('evil')
  })

  it.each([
    ['no hub: the local copy with the settings prompt', null, '', true, { kind: 'local', url: `${LOCAL}?reason=no-hub`, reason: 'no-hub' }],
    ['an unreachable hub: the local copy', 'http://10.0.0.2:8080/', 'tok', false, { kind: 'local', url: `${LOCAL}?reason=unreachable`, reason: 'unreachable' }],
    ['a reachable hub: its page with the token in the fragment', 'http://10.0.0.2:8080/', 'a+b/c=', true, { kind: 'hub', url: 'http://10.0.0.2:8080/#token=a%2Bb%2Fc%3D' }],
    ['a reachable hub without token', 'https://ring.example/ops/', '', true, { kind: 'hub', url: 'https://ring.example/ops/' }],
  ])('loads %s', (_name, adminUrl, token, reachable, target) => {
    expect(windowTarget(adminUrl, token, reachable, LOCAL)).toEqual(target)
  })

  it.each([
    ['the hub page', 'http://10.0.0.2:8080/', true],
    ['another page of the hub', 'http://10.0.0.2:8080/devices?x=1#y', true],
    ['the local copy with a query', 'ringhub-app://bundle/index.html?reason=no-hub', true],
    ['another page of the app scheme', 'ringhub-app://bundle/other.html', false],
    ['the app scheme, another host', 'ringhub-app://evil/index.html', false],
    ['the local copy as a file (never loaded so)', 'file:///opt/ringhub/ui/dist/renderer/index.html', false],
    ['another hub', 'http://10.0.0.3:8080/', false],
    ['the hub host on another port', 'http://10.0.0.2:9090/', false],
    ['the hub over another scheme', 'https://10.0.0.2:8080/', false],
    ['another local file', 'file:///etc/passwd', false],
    ['javascript:', 'javascript:alert(1)', false],
    ['a data URL', 'data:text/html,hi', false],
    ['garbage', 'not a url', false],
  ])('trusts %s: %s', (_name, url, trusted) => {
    expect(isTrustedUrl(url, PLACES)).toBe(trusted)
  })

  it('trusts only the local copy when no hub is configured', () => {
    expect(isTrustedUrl('http://10.0.0.2:8080/', { ...PLACES, adminUrl: null })).toBe(false)
    expect(isTrustedUrl(PLACES.localIndexUrl, { ...PLACES, adminUrl: null })).toBe(true)
  })

  it('probes /healthz: an answer below 500 is a hub, an error or timeout is not', async () => {
    const asked: string[] = []
    const answering = (status: number) => (async (url: Parameters<typeof fetch>[0]) => { asked.push(String(url)); return new Response('ok', { status }) }) as typeof fetch
    expect(await probeHub('http://h:8080/', answering(200), 1_000)).toBe(true)
    expect(await probeHub('http://h:8080/', answering(401), 1_000)).toBe(true)
    expect(await probeHub('http://h:8080/', answering(503), 1_000)).toBe(false)
    expect(await probeHub('http://h:8080/', (async () => { throw new TypeError('fetch failed') }) as typeof fetch, 1_000)).toBe(false)
    expect(asked[0]).toBe('http://h:8080/healthz')
  })
})

/** A BrowserWindow stand-in that records what main did to it and lets the test fire its events. */
function fakeWindow() {
  const listeners = new Map<string, (...args: never[]) => void>()
  let openHandler: ((d: { url: string }) => { action: 'deny' }) | undefined
  let destroyed = false
  const loaded: string[] = []
  const sent: Array<[string, unknown]> = []
  const window: WindowLike = {
    webContents: {
      setWindowOpenHandler: (h) => { openHandler = h },
      on: (event: string, listener: (...args: never[]) => void) => { listeners.set(event, listener) },
      send: (channel: string, payload: unknown) => { sent.push([channel, payload]) },
    },
    loadURL: async (url) => { loaded.push(url) },
    isDestroyed: () => destroyed,
    show: () => {},
    focus: () => {},
    on: (event: string, listener: () => void) => { listeners.set(`window:${event}`, listener) },
  }
  const navigate = (event: 'will-navigate' | 'will-redirect', url: string): boolean => {
    let prevented = false
    const e: CancellableEvent = { preventDefault: () => { prevented = true } }
    ;(listeners.get(event) as (e: CancellableEvent, url: string) => void)(e, url)
    return prevented
  }
  const close = (): void => { destroyed = true; (listeners.get('window:closed') as () => void)() }
  return { window, loaded, sent, navigate, close, openWindow: (url: string) => openHandler?.({ url }), listeners }
}

describe('main window', () => {
  function setup() {
    const created: Array<{ options: unknown, fake: ReturnType<typeof fakeWindow> }> = []
    const log = recordingLog()
    const win = new MainWindow({
      createWindow: (options) => { const fake = fakeWindow(); created.push({ options, fake }); return fake.window },
      session: undefined as never,
      preloadPath: '/p/preload.cjs',
      places: () => PLACES,
      log,
    })
    return { win, created, log }
  }

  it('creates a locked-down window and loads the target into it', async () => {
    const { win, created } = setup()
    await win.load({ kind: 'hub', url: 'http://10.0.0.2:8080/#token=t' })
    await win.load({ kind: 'local', url: `${LOCAL}?reason=unreachable`, reason: 'unreachable' })
    expect(created).toHaveLength(1)
    const [{ options, fake }] = created as [{ options: { webPreferences: unknown }, fake: ReturnType<typeof fakeWindow> }]
    expect(options.webPreferences).toEqual(webPreferences('/p/preload.cjs'))
    expect(fake.loaded).toEqual(['http://10.0.0.2:8080/#token=t', `${LOCAL}?reason=unreachable`])
  })

  it('blocks navigation and redirects away from the hub, new windows and webviews', async () => {
    const { win, created, log } = setup()
    await win.load({ kind: 'hub', url: 'http://10.0.0.2:8080/' })
    const fake = (created[0] as { fake: ReturnType<typeof fakeWindow> }).fake
    expect(fake.navigate('will-navigate', 'http://10.0.0.2:8080/topics')).toBe(false)
    expect(fake.navigate('will-navigate', 'https://evil.example/')).toBe(true)
    expect(fake.navigate('will-redirect', 'file:///etc/passwd')).toBe(true)
    expect(fake.openWindow('http://10.0.0.2:8080/popup')).toEqual({ action: 'deny' })
    let prevented = false
    ;(fake.listeners.get('will-attach-webview') as (e: CancellableEvent) => void)({ preventDefault: () => { prevented = true } })
    expect(prevented).toBe(true)
    expect(log.entries.map((e) => e.msg)).toEqual(['blocked navigation away from the hub', 'blocked navigation away from the hub', 'blocked a new window'])
  })

  it('sends pushes only while open, and opens a new window after the old one closed', async () => {
    const { win, created } = setup()
    win.send('ringhub:observer-status', { state: 'off' })
    await win.load({ kind: 'hub', url: 'http://10.0.0.2:8080/' })
    win.send('ringhub:observer-status', { state: 'starting' })
    const first = (created[0] as { fake: ReturnType<typeof fakeWindow> }).fake
    expect(first.sent).toEqual([['ringhub:observer-status', { state: 'starting' }]])
    first.close()
    expect(win.isOpen).toBe(false)
    await win.load({ kind: 'hub', url: 'http://10.0.0.2:8080/' })
    expect(created).toHaveLength(2)
  })

  it('hardens the session: our CSP on every response, every permission refused', () => {
    const got: {
      onHeaders?: Parameters<SessionLike['webRequest']['onHeadersReceived']>[0]
      request?: Parameters<SessionLike['setPermissionRequestHandler']>[0]
      check?: Parameters<SessionLike['setPermissionCheckHandler']>[0]
    } = {}
    const session: SessionLike = {
      setPermissionRequestHandler: (h) => { got.request = h },
      setPermissionCheckHandler: (h) => { got.check = h },
      webRequest: { onHeadersReceived: (l) => { got.onHeaders = l } },
    }
    hardenSession(session, () => PLACES)
    let response: { responseHeaders?: Record<string, string[]> } = {}
    got.onHeaders?.({ responseHeaders: { 'content-security-policy': ["default-src *; script-src 'unsafe-eval'"], 'Content-Type': ['text/html'] } }, (r) => { response = r })
    expect(response.responseHeaders).toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [contentSecurityPolicy('http://10.0.0.2:8080')] })
    const granted: boolean[] = []
    got.request?.({}, 'media', (g) => granted.push(g))
    expect(granted).toEqual([false])
    expect(got.check?.()).toBe(false)
  })
})
