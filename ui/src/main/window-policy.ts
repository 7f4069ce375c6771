/**
 * What the window may load, run and talk to, as pure functions (STYLE §11): the web preferences,
 * the Content-Security-Policy, where the window goes, and which URLs may navigate it or call IPC.
 * app-window.ts applies them to a real BrowserWindow.
 */
import type { WebPreferences } from 'electron'
import type { DesktopLocalCopyReason } from '../../../hub/src/contract/desktop-api.js'
import type { RingView } from '../../../hub/src/contract/ring-view.js'

/**
 * The renderer is a plain web page, possibly served by any hub: no Node in it, its own JS world
 * (contextIsolation), Chromium's sandbox, and nothing that opens a side door.
 */
export function webPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  }
}

/**
 * Scripts and styles only from the page's own origin (no inline script, no eval), data only from
 * it and from the configured hub (HTTP and its WebSocket), no plugins, frames or forms elsewhere.
 * `hubOrigin` matters for the local copy (ringhub-app://bundle), whose 'self' is not the hub.
 * `channels`: the other hubs' channel endpoints (channelSources), where the live views' channel
 * client may fail over to: their `/channels` path only, nothing else of those hubs.
 */
export function contentSecurityPolicy(hubOrigin: string | null, channels: readonly string[] = []): string {
  const hub = hubOrigin === null ? [] : [hubOrigin, hubOrigin.replace(/^http/, 'ws')]
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${["'self'", ...hub, ...channels].join(' ')}`,
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/**
 * A ring member's admin address as gossiped: `host:port`, the host a name or IPv4. (CSP's host
 * grammar has no IPv6 literal: a hub gossiping one is not added, and the client fails over past it.)
 */
const ADMIN_ADDRESS = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$/

/**
 * The channel endpoints (`ws://host:port/channels`; `wss` when the configured hub is https) of
 * the ring's other hubs, from the observer's ring view, for the page's connect-src: the live views'
 * channel client goes round the ring's hubs when its hub goes away (ui/src/renderer/logic/channel-urls.ts).
 * Observers and members that left are skipped. An address is gossip metadata, a peer's word:
 * only a plain `host:port` is taken, so none can add CSP syntax (`;`, spaces, quotes).
 */
export function channelSources(ring: RingView | null, hubOrigin: string | null): string[] {
  if (ring === null || hubOrigin === null) return []
  const scheme = hubOrigin.startsWith('https:') ? 'wss' : 'ws'
  const own = hubOrigin.replace(/^https?:\/\//, '')
  const sources: string[] = []
  for (const m of ring.members) {
    const admin = m.addresses.admin
    if (m.meta.role === 'observer' || m.state === 'left' || admin === undefined || admin === own || !ADMIN_ADDRESS.test(admin)) continue
    const source = `${scheme}://${admin}/channels`
    if (!sources.includes(source)) sources.push(source)
  }
  return sources
}

/** The origin of an admin URL (`http://host:port`), or null when there is none. */
export function hubOrigin(adminUrl: string | null): string | null {
  if (adminUrl === null) return null
  try { return new URL(adminUrl).origin } catch { return null }
}

export type WindowTarget =
  | { kind: 'hub', url: string }
  /** The bundled copy of the renderer (app-protocol.ts), `?reason=` telling it to show the settings prompt. */
  | { kind: 'local', url: string, reason: DesktopLocalCopyReason }

/**
 * The hub's page when a hub is configured and answered, else the local copy with the reason.
 * The token goes in the fragment: never sent to a server nor logged by a proxy, and readable by
 * the renderer (hub/src/contract/desktop-api.ts).
 */
export function windowTarget(adminUrl: string | null, token: string, reachable: boolean, localIndexUrl: string): WindowTarget {
  const local = (reason: DesktopLocalCopyReason): WindowTarget => ({ kind: 'local', url: `${localIndexUrl}?reason=${reason}`, reason })
  if (adminUrl === null) return local('no-hub')
  if (!reachable) return local('unreachable')
  const url = new URL(adminUrl)
  url.hash = token === '' ? '' : `token=${encodeURIComponent(token)}`
  return { kind: 'hub', url: url.href }
}

/** Where the window may navigate and whose frames may call IPC: the hub's origin or the local copy. */
export interface TrustedPlaces {
  adminUrl: string | null
  /** The bundled copy's page, `ringhub-app://bundle/index.html` (app-protocol.ts). */
  localIndexUrl: string
}

/** The hub's origin, or the local copy's page (any query); `file:` never (the app loads no files). */
export function isTrustedUrl(raw: string, places: TrustedPlaces): boolean {
  let url: URL
  try { url = new URL(raw) } catch { return false }
  const local = new URL(places.localIndexUrl)
  if (url.protocol === local.protocol) return url.host === local.host && url.pathname === local.pathname
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  return url.origin === hubOrigin(places.adminUrl)
}

/** GET `<adminUrl>/healthz`: any answer below 500 means a hub is there (401 too: wrong token). */
export async function probeHub(adminUrl: string, fetchFn: typeof fetch, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetchFn(new URL('healthz', adminUrl), { signal: AbortSignal.timeout(timeoutMs) })
    await res.body?.cancel()
    return res.status < 500
  } catch {
    return false
  }
}
