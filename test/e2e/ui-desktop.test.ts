import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP_SCHEME, APP_HOST, appProtocolHandler } from '../../ui/src/main/app-protocol.js'
import { contentSecurityPolicy } from '../../ui/src/main/window-policy.js'
import type { Hub } from '../../hub/src/hub.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { REPO_ROOT, startHub, tempDir } from '../helpers/hubs.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The renderer as the desktop app uses it (hub/src/contract/desktop-api.ts): the admin token in
// the URL fragment, and the bundled copy's setup panel (`?reason=`) saving through
// `window.ringhub`, here a stand-in that records its calls (Electron itself is not run here).
const TOKEN = 'ui-test-token'
const dir = tempDir()
let hub: Hub
let ui: UiBrowser

/** A stand-in for the preload's `window.ringhub`, recording calls in `window.desktopCalls`. */
function fakeDesktop(observerRing: RingView): string {
  return `(() => {
    const calls = window.desktopCalls = []
    const observerListeners = []
    const status = { state: 'running', address: '127.0.0.1:7999', error: null, ring: ${JSON.stringify(observerRing)} }
    window.ringhub = {
      apiVersion: 1,
      appVersion: async () => '0.1.0',
      getSettings: async () => ({ adminUrl: null, tokenSet: false, tokenInPlainText: false, seeds: ['127.0.0.1:7946'], gossipKeysSet: 0, clusterLabel: '', observerId: 'desk', profile: 'lan' }),
      saveSettings: async (input) => { calls.push(['saveSettings', input]); return {} },
      getObserverStatus: async () => status,
      onObserverStatus: (l) => { observerListeners.push(l); return () => {} },
      reconnect: async () => { calls.push(['reconnect']) },
      getLocalHubStatus: async () => ({ state: 'stopped', pid: null, adminUrl: null, error: null }),
      onLocalHubStatus: () => () => {},
      startLocalHub: async () => { calls.push(['startLocalHub']); return { state: 'starting', pid: 1, adminUrl: null, error: null } },
      stopLocalHub: async () => ({ state: 'stopped', pid: null, adminUrl: null, error: null }),
    }
  })()`
}

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true, adminToken: TOKEN })
  ui = await UiBrowser.launch()
})

afterAll(async () => {
  await ui?.close()
  await hub?.stop()
  dir.remove()
})

describe('the renderer in the desktop app', () => {
  it('takes the admin token from the URL fragment, drops it from the address bar, and is live', async () => {
    const page = await ui.open(`http://127.0.0.1:${hub.ports.admin}/#token=${encodeURIComponent(TOKEN)}`)
    await page.waitForSelector('tr[data-hub="h1"][data-state="alive"]', { timeout: 10_000 })
    await waitFor(async () => (await page.getAttribute('.status', 'data-socket')) === 'open', 'the socket live', 10_000, 50)
    expect(page.url()).toBe(`http://127.0.0.1:${hub.ports.admin}/#ring`)
    expect(await page.$('.status .warn')).toBeNull()
  })

  it('without the token, says the hub refuses it instead of showing stale data', async () => {
    const page = await ui.open(`http://127.0.0.1:${hub.ports.admin}/#ring`)
    await page.waitForSelector('.status .warn', { timeout: 10_000 })
    expect(await page.getAttribute('.status', 'title')).toContain('missing admin token')
    expect(await page.$('tr[data-hub]')).toBeNull()
  })

  it('as the bundled copy (?reason=no-hub) asks for a hub, saves it through window.ringhub, and shows the observer\'s ring', async () => {
    const ring = await (await fetch(`http://127.0.0.1:${hub.ports.admin}/api/ring`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as RingView
    const context = await ui.browser.newContext()
    await context.addInitScript(fakeDesktop(ring))
    const page = await context.newPage()
    const apiRequests: string[] = []
    page.on('request', (req) => { if (new URL(req.url()).pathname.startsWith('/api/')) apiRequests.push(req.url()) })
    await page.goto(`http://127.0.0.1:${hub.ports.admin}/?reason=no-hub`)
    await page.waitForSelector('.setup-overlay h2:text("Connect to a hub")', { timeout: 10_000 })
    // The observer's view reaches the Ring tab behind the panel.
    await page.waitForSelector('tr[data-hub="h1"][data-state="alive"]', { timeout: 10_000 })
    expect(await page.textContent('.setup-observer')).toContain('1 hub alive')
    await page.fill('.setup-url', 'http://10.0.0.2:8080')
    await page.fill('.setup-token', 'tok')
    await page.click('.setup button[type="submit"]')
    await waitFor(async () => ((await page.evaluate('window.desktopCalls')) as unknown[]).length >= 2, 'the settings saved', 5_000, 50)
    expect(await page.evaluate('window.desktopCalls')).toEqual([['saveSettings', { adminUrl: 'http://10.0.0.2:8080', token: 'tok' }], ['reconnect']])
    // No hub yet: the renderer asked none.
    expect(apiRequests).toEqual([])
    await ui.screenshot(page, 'ui-desktop-setup')
    await page.click('.setup-later')
    await page.waitForSelector('.setup-overlay', { state: 'hidden', timeout: 5_000 })
    await context.close()
    expect(ui.errors).toEqual([])
  })

  it('as the bundled copy from the app\'s scheme handler (what Electron serves instead of file://), runs its ES modules under the app\'s CSP', async () => {
    // Chromium refuses module scripts on a file:// page (origin null, CORS); Electron serves the
    // copy from ringhub-app://bundle through app-protocol.ts's handler. Headless Chromium cannot
    // register that scheme, so the same handler answers here over HTTP, unchanged: its paths,
    // MIME types and CSP header are what the window gets.
    const rendererDir = join(REPO_ROOT, 'ui', 'dist', 'renderer')
    // index.html and app.css reach ui/dist/renderer by copy-renderer-static.js (prepare); a
    // checkout built with tsc -b alone has them in ui/public.
    const readEither = async (path: string): Promise<Uint8Array> => {
      try { return await readFile(path) } catch { return await readFile(join(REPO_ROOT, 'ui', 'public', relative(rendererDir, path))) }
    }
    const handle = appProtocolHandler({ rootDir: rendererDir, readFile: readEither, csp: () => contentSecurityPolicy(null) })
    const server: Server = createServer((req, res) => {
      void handle({ url: `${APP_SCHEME}://${APP_HOST}${req.url ?? '/'}`, method: req.method ?? 'GET' }).then(async (answer) => {
        res.writeHead(answer.status, Object.fromEntries(answer.headers))
        res.end(Buffer.from(await answer.arrayBuffer()))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const ring = await (await fetch(`http://127.0.0.1:${hub.ports.admin}/api/ring`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as RingView
      const context = await ui.browser.newContext()
      await context.addInitScript(fakeDesktop(ring))
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      // (Chromium asks for /favicon.ico by itself; an Electron window does not.)
      page.on('console', (msg) => { if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) errors.push(`${msg.text()} ${msg.location().url}`) })
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html?reason=unreachable`)
      // The modules ran: the setup panel and the observer's ring are rendered.
      await page.waitForSelector('.setup-overlay', { timeout: 10_000 })
      await page.waitForSelector('tr[data-hub="h1"][data-state="alive"]', { timeout: 10_000 })
      expect(await page.textContent('body')).not.toContain('Loading Ringhub')
      // The hub's colour swatch is drawn: the app's CSP has no 'unsafe-inline', so the renderer
      // sets styles through the CSSOM, never as style attributes (widgets/dom.ts).
      expect(await page.evaluate(`getComputedStyle(document.querySelector('tr[data-hub="h1"] .swatch')).backgroundColor`)).not.toBe('rgba(0, 0, 0, 0)')
      expect(errors).toEqual([])
      await context.close()
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
