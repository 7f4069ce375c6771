/**
 * Which hub the UI talks to and with which token. The page is normally served by a hub, so the
 * default hub is the page's own origin; `?hub=http://host:port` or the settings dialog points it
 * elsewhere. The token comes from `?token=` in the page URL or the settings dialog; either is
 * remembered in localStorage so a reload keeps it (the Electron app passes both in the URL).
 */

export interface ConnectionSettings {
  /** Base URL of a hub's admin port, e.g. `http://10.0.0.2:8080` (no trailing slash). */
  hubUrl: string
  /** Admin token (`--admin-token`), empty when the hub needs none. */
  token: string
}

/** The parts of `window.location` read here (structural, so tests need no DOM). */
export interface PageLocation { origin: string, search: string }
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
  const hubUrl = normalizeHubUrl(hubParam ?? storage?.getItem(HUB_KEY) ?? location.origin)
  const token = tokenParam ?? storage?.getItem(TOKEN_KEY) ?? ''
  if (storage) {
    if (hubParam !== null) storage.setItem(HUB_KEY, hubUrl)
    if (tokenParam !== null) storage.setItem(TOKEN_KEY, token)
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
