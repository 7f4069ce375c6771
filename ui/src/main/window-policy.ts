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
 * `hubOrigin` matters for the local copy (file://), whose 'self' is not the hub.
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
  /** The bundled copy of the renderer; `reason` tells it to show the settings prompt. */
  | { kind: 'local', file: string, query: { reason: DesktopLocalCopyReason } }

/**
 * The hub's page when a hub is configured and answered, else the local copy with the reason.
 * The token goes in the fragment: never sent to a server nor logged by a proxy, and readable by
 * the renderer (hub/src/contract/desktop-api.ts).
 */
export function windowTarget(adminUrl: string | null, token: string, reachable: boolean, localIndex: string): WindowTarget {
  if (adminUrl === null) return { kind: 'local', file: localIndex, query: { reason: 'no-hub' } }
  if (!reachable) return { kind: 'local', file: localIndex, query: { reason: 'unreachable' } }
  const url = new URL(adminUrl)
  url.hash = token === '' ? '' : `token=${encodeURIComponent(token)}`
  return { kind: 'hub', url: url.href }
}

/** Where the window may navigate and whose frames may call IPC: the hub's origin or the local copy. */
export interface TrustedPlaces {
  adminUrl: string | null
  /** `file://…/ui/dist/renderer/index.html`. */
  localIndexUrl: string
}

export function isTrustedUrl(raw: string, places: TrustedPlaces): boolean {
  let url: URL
  try { url = new URL(raw) } catch { return false }
  if (url.protocol === 'file:') {
    const local = new URL(places.localIndexUrl)
    return url.pathname === local.pathname && url.host === local.host
  }
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
