/**
 * Which hub the UI talks to and with which token. The page is normally served by a hub, so the
 * default hub is the page's own origin; `?hub=http://host:port` or the settings dialog points it
 * elsewhere. The token comes from the fragment (`#token=…`, never sent to a server: how the
 * desktop app passes it, hub/src/contract/desktop-api.ts), from `?token=`, or from the settings
 * dialog. One from the query or the dialog is remembered in localStorage so a reload keeps it;
 * one from the fragment is not (the desktop app keeps it, encrypted).
 */

export interface ConnectionSettings {
  /** Base URL of a hub's admin port, e.g. `http://10.0.0.2:8080` (no trailing slash). */
  hubUrl: string
  /** Admin token (`--admin-token`), empty when the hub needs none. */
  token: string
}

/** The parts of `window.location` read here (structural, so tests need no DOM). */
export interface PageLocation { origin: string, search: string, hash: string }
/** The part of `localStorage` used here. */
export interface SettingsStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

const HUB_KEY = 'ringhub.hubUrl'
const TOKEN_KEY = 'ringhub.token'

/** Settings from the page URL, else from storage, else the page's origin and no token. */
export function loadSettings(location: PageLocation, storage: SettingsStorage | undefined): ConnectionSettings {
  const params = new URLSearchParams(location.search)
  const hubParam = params.get('hub')
  const tokenParam = params.get('token')
  const fragmentToken = tokenInFragment(location.hash)
  const hubUrl = normalizeHubUrl(hubParam ?? storage?.getItem(HUB_KEY) ?? location.origin)
  const token = fragmentToken ?? tokenParam ?? storage?.getItem(TOKEN_KEY) ?? ''
  if (storage) {
    if (hubParam !== null) storage.setItem(HUB_KEY, hubUrl)
    if (tokenParam !== null) storage.setItem(TOKEN_KEY, tokenParam)
  }
  return { hubUrl, token }
}

export function saveSettings(settings: ConnectionSettings, storage: SettingsStorage | undefined): void {
  storage?.setItem(HUB_KEY, normalizeHubUrl(settings.hubUrl))
  storage?.setItem(TOKEN_KEY, settings.token)
}

/** `host:port` → `http://host:port`; trailing slashes dropped. */
export function normalizeHubUrl(url: string): string {
  const withScheme = /^https?:\/\//i.test(url) ? url : `http://${url}`
  return withScheme.replace(/\/+$/, '')
}

/** The token of a `#token=…` fragment (URI-encoded), or undefined (a tab name such as `#ring`). */
export function tokenInFragment(hash: string): string | undefined {
  const fragment = hash.startsWith('#') ? hash.slice(1) : hash
  if (!fragment.includes('=')) return undefined
  return new URLSearchParams(fragment).get('token') ?? undefined
}

/**
 * The page URL without a token (query or fragment), so it does not linger in the address bar,
 * the history or a screenshot; `tab` becomes the fragment. Undefined when there is none to remove.
 */
export function urlWithoutToken(href: string, tab: string): string | undefined {
  const url = new URL(href)
  const inFragment = tokenInFragment(url.hash) !== undefined
  if (!inFragment && !url.searchParams.has('token')) return undefined
  url.searchParams.delete('token')
  url.hash = inFragment ? tab : url.hash
  return url.href
}
