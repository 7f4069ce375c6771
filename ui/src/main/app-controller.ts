/**
 * What the app does, between Electron's events and the parts: settings, the observer lifecycle,
 * the local hub and the window. Implements the IPC backend, feeds the menus, and shuts down
 * gracefully. main.ts builds it from real Electron objects; tests build it from fakes.
 */
import type { DesktopSettingsInput, DesktopSettingsView, LocalHubStatus, ObserverStatus } from '../../../hub/src/contract/desktop-api.js'
import type { MainWindow } from './app-window.js'
import type { DesktopBackend } from './ipc-handlers.js'
import { localHubCommand, type LocalHub } from './local-hub.js'
import type { MainLog } from './main-log.js'
import type { MenuState } from './menu-model.js'
import { observerConfigOf, type ObserverLifecycle } from './observer-lifecycle.js'
import { applyInput } from './settings-fields.js'
import type { SettingsStore } from './settings-store.js'
import { windowTarget, type TrustedPlaces } from './window-policy.js'

export interface AppControllerDeps {
  version: string
  settings: SettingsStore
  observer: ObserverLifecycle
  localHub: LocalHub
  /** Where the local hub keeps its data (under userData). */
  localHubDataDir: string
  window: Pick<MainWindow, 'load' | 'focus' | 'isOpen'>
  /** Whether a hub answers at this admin URL (window-policy.ts `probeHub`). */
  probe: (adminUrl: string) => Promise<boolean>
  /** The bundled renderer's page, `ringhub-app://bundle/index.html` (app-protocol.ts). */
  localIndexUrl: string
  /** Called after anything the menus show changed. */
  stateChanged: () => void
  /**
   * A hub admin URL to use when none is configured yet (`RINGHUB_DESKTOP_ADMIN_URL`: `npm start`
   * passes its first hub); saved as the setting, so the operator can change it later.
   */
  initialAdminUrl?: string | undefined
  log: MainLog
}

export class AppController implements DesktopBackend {
  #shutdown: Promise<void> | undefined
  #saves: Promise<void> = Promise.resolve()

  constructor(private readonly deps: AppControllerDeps) {}

  /** On app ready: settings, then the window (not held up by the observer), then the observer. */
  async ready(): Promise<void> {
    let settings = await this.deps.settings.load()
    const initial = this.deps.initialAdminUrl
    if (settings.adminUrl === null && initial !== undefined && initial !== '') {
      await this.deps.settings.save({ ...settings, adminUrl: initial })
      settings = this.deps.settings.current
    }
    await this.openWindow()
    await this.deps.observer.apply(observerConfigOf(settings))
  }

  places(): TrustedPlaces {
    return { adminUrl: this.deps.settings.current.adminUrl, localIndexUrl: this.deps.localIndexUrl }
  }

  menuState(): MenuState {
    return { hubConfigured: this.deps.settings.current.adminUrl !== null, observer: this.deps.observer.status, localHub: this.deps.localHub.status }
  }

  /** Loads the hub's page when it answers, else the local copy with the settings prompt. */
  async openWindow(): Promise<void> {
    const { adminUrl, token } = this.deps.settings.current
    const reachable = adminUrl !== null && await this.deps.probe(adminUrl)
    try {
      await this.deps.window.load(windowTarget(adminUrl, token, reachable, this.deps.localIndexUrl))
    } catch (err) {
      // A page that fails to load (hub gone between probe and load) leaves the window usable.
      this.deps.log.warn({ err, adminUrl }, 'window did not load')
    }
    this.deps.window.focus()
  }

  /** Tray "Open": focuses the window, or opens it again after it was closed. */
  async showWindow(): Promise<void> {
    if (this.deps.window.isOpen) this.deps.window.focus()
    else await this.openWindow()
  }

  appVersion(): string { return this.deps.version }

  getSettings(): DesktopSettingsView { return this.deps.settings.view() }

  /** Saves one at a time: each applies its input to what the previous one stored. */
  saveSettings(input: DesktopSettingsInput): Promise<DesktopSettingsView> {
    const saved = this.#saves.then(() => this.#save(input))
    this.#saves = saved.then(() => {}, () => {})
    return saved
  }

  async #save(input: DesktopSettingsInput): Promise<DesktopSettingsView> {
    const before = this.deps.settings.current
    const next = applyInput(before, input)
    await this.deps.settings.save(next)
    this.deps.log.info({ fields: Object.keys(input) }, 'settings saved')
    await this.deps.observer.apply(observerConfigOf(next))
    if (next.adminUrl !== before.adminUrl || next.token !== before.token) await this.openWindow()
    this.deps.stateChanged()
    return this.deps.settings.view()
  }

  getObserverStatus(): ObserverStatus { return this.deps.observer.status }

  async reconnect(): Promise<void> {
    await this.deps.observer.apply(observerConfigOf(this.deps.settings.current), { force: true })
    await this.openWindow()
  }

  getLocalHubStatus(): LocalHubStatus { return this.deps.localHub.status }

  startLocalHub(): Promise<LocalHubStatus> {
    return this.deps.localHub.start(localHubCommand(this.deps.settings.current, this.deps.localHubDataDir))
  }

  stopLocalHub(): Promise<LocalHubStatus> { return this.deps.localHub.stop() }

  /** Graceful: the observer leaves the ring and the local hub stops, together. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= Promise.allSettled([this.deps.observer.close(), this.deps.localHub.stop()]).then((results) => {
      for (const r of results) if (r.status === 'rejected') this.deps.log.warn({ err: r.reason }, 'shutdown step failed')
    })
    return this.#shutdown
  }
}

/** The part of Electron's app the quit guard uses. */
export interface QuitableApp {
  on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): unknown
  quit(): void
}

/**
 * Holds the first quit until `shutdown` finished (Electron would otherwise exit mid-leave and the
 * ring would suspect, then declare dead, an observer that simply closed), then quits for real.
 */
export function installQuitGuard(app: QuitableApp, shutdown: () => Promise<void>): void {
  let state: 'running' | 'shutting-down' | 'done' = 'running'
  app.on('before-quit', (event) => {
    if (state === 'done') return
    event.preventDefault()
    if (state === 'shutting-down') return
    state = 'shutting-down'
    const done = (): void => {
      state = 'done'
      app.quit()
    }
    // A failed shutdown (a leave that timed out) must not keep the app from quitting.
    shutdown().then(done, done)
  })
}
