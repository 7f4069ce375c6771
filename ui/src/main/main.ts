/**
 * Electron main: the composition root. Builds the real Electron pieces and the parts
 * (settings, observer, local hub, window, tray, menus, IPC) and wires them; all logic lives in
 * the modules it imports, which take these pieces as parameters and are unit-tested without
 * Electron. Run with `npx electron ui/dist/main/main.js` (docs/desktop-app.md).
 *
 * The observer comes from hub/dist (the hub's build, like bench/ uses it): pure JavaScript, no
 * native module, so it runs in Electron's main process as built for Node.
 */
import { app, BrowserWindow, ipcMain, Menu, nativeImage, protocol, safeStorage, session, Tray, utilityProcess } from 'electron'
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLogger } from '../../../hub/dist/base/log.js'
import { systemClock } from '../../../hub/dist/base/system-clock.js'
import { startObserverNode } from '../../../hub/dist/observer/observer-node.js'
import { RINGHUB_VERSION } from '../../../hub/dist/version.js'
import type { DesktopIpcPushChannel } from '../../../hub/src/contract/desktop-api.js'
import { AppController, installQuitGuard } from './app-controller.js'
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler, LOCAL_INDEX_URL } from './app-protocol.js'
import { hardenSession, MainWindow } from './app-window.js'
import { registerIpc } from './ipc-handlers.js'
import { LocalHub } from './local-hub.js'
import { appMenu, trayMenu, trayTooltip, type MenuActions } from './menu-model.js'
import { ObserverLifecycle, observerBindHost } from './observer-lifecycle.js'
import { SettingsStore } from './settings-store.js'
import { channelSources, contentSecurityPolicy, hubOrigin, probeHub } from './window-policy.js'

const here = dirname(fileURLToPath(import.meta.url))
/** The repository (or the packaged app's) root: ui/dist/main is three levels down. */
const root = join(here, '..', '..', '..')
/** The bundled renderer (compiled modules + ui/public), served as ringhub-app://bundle/. */
const RENDERER_DIR = join(root, 'ui', 'dist', 'renderer')
const PRELOAD = join(root, 'ui', 'dist', 'preload', 'preload.cjs')
const HUB_CLI = join(root, 'bin', 'ringhub.js')
/** How long the window waits for the hub's /healthz before showing the local copy, ms. */
const PROBE_TIMEOUT_MS = 2_000
/** A 16×16 ring, so the tray needs no file next to the app. */
const TRAY_ICON = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAOklEQVR42mNgoAWQnzfrPzZMtkaiDCJWM05DiHEqTjWk+BOrWmyCuJw8kgygSUwQnQ5onhppl5nIAQDrSBhgjOsOEAAAAABJRU5ErkJggg=='

const log = createLogger('info', { app: 'ringhub-desktop' })

async function main(): Promise<void> {
  await app.whenReady()
  const userData = app.getPath('userData')
  const settings = new SettingsStore({ dir: userData, secrets: safeStorage, hostname: hostname(), log })
  let tray: Tray | undefined
  const push = (channel: DesktopIpcPushChannel, payload: unknown): void => { mainWindow.send(channel, payload) }
  // The closures below run only on events, after `c` exists (the observer reports nothing
  // before c.ready() starts it).
  const refreshMenus = (): void => {
    const state = c.menuState()
    Menu.setApplicationMenu(Menu.buildFromTemplate(appMenu(state, actions, process.platform)))
    tray?.setContextMenu(Menu.buildFromTemplate(trayMenu(state, actions)))
    tray?.setToolTip(trayTooltip(state))
  }

  const observer = new ObserverLifecycle({
    start: (config, incarnation) => startObserverNode({
      id: config.id, seeds: config.seeds, gossipKeys: config.gossipKeys, clusterLabel: config.clusterLabel || undefined,
      profile: config.profile, host: observerBindHost(config.seeds), port: 0, incarnation, clock: systemClock, log,
    }),
    log,
    onStatus: (status) => { push('ringhub:observer-status', status); refreshMenus() },
  })
  const localHub = new LocalHub({
    fork: (args, env) => {
      const child = utilityProcess.fork(HUB_CLI, args, { stdio: 'pipe', serviceName: 'Ringhub local hub', env: { ...process.env, ...env } })
      child.stderr?.resume()
      return child
    },
    killHard: (pid) => { process.kill(pid, 'SIGKILL') },
    timers: systemClock,
    log,
    onStatus: (status) => { push('ringhub:local-hub-status', status); refreshMenus() },
  })
  const mainWindow: MainWindow = new MainWindow({
    createWindow: (options) => new BrowserWindow(options),
    session: session.defaultSession,
    preloadPath: PRELOAD,
    places: () => c.places(),
    log,
  })
  const c: AppController = new AppController({
    version: RINGHUB_VERSION, settings, observer, localHub,
    localHubDataDir: join(userData, 'local-hub'),
    window: mainWindow,
    probe: (adminUrl) => probeHub(adminUrl, fetch, PROBE_TIMEOUT_MS),
    localIndexUrl: LOCAL_INDEX_URL,
    stateChanged: refreshMenus,
    initialAdminUrl: process.env.RINGHUB_DESKTOP_ADMIN_URL,
    log,
  })
  const report = (what: string) => (err: unknown): void => { log.error({ err }, what) }
  const actions: MenuActions = {
    openWindow: () => { c.showWindow().catch(report('cannot open the window')) },
    reconnect: () => { c.reconnect().catch(report('reconnect failed')) },
    startLocalHub: () => { c.startLocalHub().catch(report('cannot start the local hub')) },
    stopLocalHub: () => { c.stopLocalHub().catch(report('cannot stop the local hub')) },
    quit: () => { app.quit() },
  }

  // The live views' channel client may fail over to the ring's other hubs the observer knows of
  // when a page loads (docs/desktop-app.md).
  const channels = (): string[] => channelSources(c.getObserverStatus().ring, hubOrigin(c.places().adminUrl))
  hardenSession(session.defaultSession, () => c.places(), channels)
  session.defaultSession.protocol.handle(APP_SCHEME, appProtocolHandler({
    rootDir: RENDERER_DIR, readFile, csp: () => contentSecurityPolicy(hubOrigin(c.places().adminUrl), channels()),
  }))
  registerIpc({ ipcMain, backend: c, places: () => c.places(), log })
  installQuitGuard(app, () => c.shutdown())
  app.on('second-instance', () => { actions.openWindow() })
  // The tray keeps the observer running with the window closed; without a tray, closing quits.
  app.on('window-all-closed', () => { if (!tray) app.quit() })
  try {
    tray = new Tray(nativeImage.createFromDataURL(TRAY_ICON))
    tray.on('click', () => actions.openWindow())
  } catch (err) {
    log.warn({ err }, 'no system tray; closing the window quits')
  }
  refreshMenus()
  await c.ready()
  refreshMenus()
}

// The same settings directory in development (`electron ui/dist/main/main.js`, where Electron
// would take the name from the root package.json) as in the packages (productName). Before the
// single-instance lock, which lives in that directory.
app.setName('Ringhub')
// Before ready (Electron's rule): the bundled renderer's scheme, a real origin for its ES modules.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }])
app.setPath('userData', join(app.getPath('appData'), 'Ringhub'))
// One app per user: a second would start a second observer with the same member id.
if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  main().catch((err: unknown) => {
    log.fatal({ err }, 'desktop app failed to start')
    app.exit(1)
  })
}
