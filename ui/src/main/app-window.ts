/**
 * The operator window: built with window-policy.ts's preferences, locked to the trusted places
 * (no new windows, no navigation elsewhere, no webviews, no permissions), served under the CSP.
 * Takes the Electron pieces as parameters; the interfaces below are the parts of BrowserWindow
 * and Session it uses, which the real ones satisfy (main.ts passes them) and tests fake.
 */
import type { BrowserWindowConstructorOptions } from 'electron'
import type { DesktopIpcPushChannel } from '../../../hub/src/contract/desktop-api.js'
import type { MainLog } from './main-log.js'
import { contentSecurityPolicy, hubOrigin, isTrustedUrl, webPreferences, type TrustedPlaces, type WindowTarget } from './window-policy.js'

/** A navigation Electron lets us cancel. */
export interface CancellableEvent { preventDefault(): void }

export interface WindowLike {
  readonly webContents: {
    setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void
    on(event: 'will-navigate' | 'will-redirect', listener: (event: CancellableEvent, url: string) => void): unknown
    on(event: 'will-attach-webview', listener: (event: CancellableEvent) => void): unknown
    send(channel: string, ...args: unknown[]): void
  }
  loadURL(url: string): Promise<void>
  isDestroyed(): boolean
  show(): void
  focus(): void
  on(event: 'closed', listener: () => void): unknown
}

export interface SessionLike {
  setPermissionRequestHandler(handler: ((webContents: unknown, permission: unknown, callback: (granted: boolean) => void) => void) | null): void
  setPermissionCheckHandler(handler: (() => boolean) | null): void
  readonly webRequest: {
    onHeadersReceived(listener: (details: { responseHeaders?: Record<string, string[]> }, callback: (response: { responseHeaders?: Record<string, string[]> }) => void) => void): void
  }
}

export interface MainWindowDeps {
  createWindow: (options: BrowserWindowConstructorOptions) => WindowLike
  session: SessionLike
  preloadPath: string
  /** The settings' current admin URL and the local copy: what is trusted right now. */
  places: () => TrustedPlaces
  log: MainLog
}

/**
 * Applies the session-wide rules once: CSP on every response (the hub's pages and the local
 * copy alike), and every permission (camera, notifications, …) refused: the UI needs none.
 * `channels`: the ring's other channel endpoints at the time a page loads (channelSources).
 */
export function hardenSession(session: SessionLike, places: () => TrustedPlaces, channels: () => readonly string[] = () => []): void {
  session.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false))
  session.setPermissionCheckHandler(() => false)
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders }
    // A hub may send its own policy; ours replaces it so the app's rules hold whatever it serves.
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-security-policy') delete headers[name]
    headers['Content-Security-Policy'] = [contentSecurityPolicy(hubOrigin(places().adminUrl), channels())]
    callback({ responseHeaders: headers })
  })
}

/** The one main window, created on demand and re-created after it was closed. */
export class MainWindow {
  #window: WindowLike | undefined

  constructor(private readonly deps: MainWindowDeps) {}

  get isOpen(): boolean { return this.#window !== undefined && !this.#window.isDestroyed() }

  /** Opens (or reuses) the window and loads `target`. */
  async load(target: WindowTarget): Promise<void> {
    // The hub's page, or the bundled copy from the app's own scheme (never file://: app-protocol.ts).
    await this.#ensure().loadURL(target.url)
  }

  /** Sends a push message (`DesktopIpcPushChannel`) to the page, if the window is open. */
  send(channel: DesktopIpcPushChannel, payload: unknown): void {
    if (this.isOpen) this.#window?.webContents.send(channel, payload)
  }

  /** Shows and focuses the window if it is open. */
  focus(): void {
    if (!this.isOpen) return
    this.#window?.show()
    this.#window?.focus()
  }

  #ensure(): WindowLike {
    if (this.#window && !this.#window.isDestroyed()) return this.#window
    const window = this.deps.createWindow({
      width: 1280, height: 800, minWidth: 800, minHeight: 500, title: 'Ringhub',
      webPreferences: webPreferences(this.deps.preloadPath),
    })
    const { webContents } = window
    webContents.setWindowOpenHandler(({ url }) => {
      this.deps.log.warn({ url }, 'blocked a new window')
      return { action: 'deny' }
    })
    const guard = (event: CancellableEvent, url: string): void => {
      if (isTrustedUrl(url, this.deps.places())) return
      event.preventDefault()
      this.deps.log.warn({ url }, 'blocked navigation away from the hub')
    }
    webContents.on('will-navigate', guard)
    webContents.on('will-redirect', guard)
    webContents.on('will-attach-webview', (event) => { event.preventDefault() })
    window.on('closed', () => { this.#window = undefined })
    this.#window = window
    return window
  }
}
