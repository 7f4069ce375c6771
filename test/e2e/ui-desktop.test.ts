import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/src/hub.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { startHub, tempDir } from '../helpers/hubs.js'
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
})
