/**
 * What the window may load, run and talk to, as pure functions (STYLE §11): the web preferences,
 * the Content-Security-Policy, where the window goes, and which URLs may navigate it or call IPC.
 * app-window.ts applies them to a real BrowserWindow.
 */
import type { WebPreferences } from 'electron'
import type { DesktopLocalCopyReason } from '../../../hub/src/contract/desktop-api.js'

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
 */
export function contentSecurityPolicy(hubOrigin: string | null): string {
  const hub = hubOrigin === null ? [] : [hubOrigin, hubOrigin.replace(/^http/, 'ws')]
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${["'self'", ...hub].join(' ')}`,
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
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
