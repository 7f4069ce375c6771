/**
 * The tray menu, its tooltip and the application menu, as pure functions of the app's state:
 * main.ts rebuilds them (Menu.buildFromTemplate) whenever the state changes, and tests read the
 * templates directly.
 */
import type { MenuItemConstructorOptions } from 'electron'
import type { LocalHubStatus, ObserverStatus } from '../../../hub/src/contract/desktop-api.js'

export interface MenuState {
  /** A hub admin URL is configured. */
  hubConfigured: boolean
  observer: ObserverStatus
  localHub: LocalHubStatus
}

export interface MenuActions {
  openWindow(): void
  reconnect(): void
  startLocalHub(): void
  stopLocalHub(): void
  /** Graceful quit: the observer leaves the ring and the local hub stops first. */
  quit(): void
}

/** "3 of 3 hubs alive", from the observer's own view; null while it has none. */
export function hubsLine(observer: ObserverStatus): string | null {
  if (!observer.ring) return null
  const hubs = observer.ring.members.filter((m) => m.meta.role === 'hub')
  const alive = hubs.filter((m) => m.state === 'alive').length
  return `${alive} of ${hubs.length} hub${hubs.length === 1 ? '' : 's'} alive`
}

export function observerLine(observer: ObserverStatus): string {
  switch (observer.state) {
    case 'off': return 'Observer: off (no seeds configured)'
    case 'starting': return 'Observer: joining…'
    case 'failed': return `Observer: failed${observer.error ? ` (${observer.error.slice(0, 80)})` : ''}`
    case 'running': return `Observer: ${hubsLine(observer) ?? 'running'}`
  }
}

function localHubItems(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const s = state.localHub.state
  const canStart = s === 'stopped' || s === 'failed'
  const canStop = s === 'starting' || s === 'running'
  return [
    { id: 'start-local-hub', label: 'Start Local Hub', enabled: canStart, click: () => actions.startLocalHub() },
    { id: 'stop-local-hub', label: s === 'stopping' ? 'Stopping Local Hub…' : 'Stop Local Hub', enabled: canStop, click: () => actions.stopLocalHub() },
  ]
}

function reconnectItem(state: MenuState, actions: MenuActions): MenuItemConstructorOptions {
  return { id: 'reconnect', label: 'Reconnect', enabled: state.hubConfigured || state.observer.state !== 'off', click: () => actions.reconnect() }
}

export function trayMenu(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  return [
    { id: 'open', label: 'Open Ringhub', click: () => actions.openWindow() },
    { type: 'separator' },
    { id: 'observer-status', label: observerLine(state.observer), enabled: false },
    reconnectItem(state, actions),
    { type: 'separator' },
    ...localHubItems(state, actions),
    { type: 'separator' },
    { id: 'quit', label: 'Quit Ringhub', click: () => actions.quit() },
  ]
}

export function trayTooltip(state: MenuState): string {
  const local = state.localHub.state === 'running' ? ' · local hub running' : ''
  return `Ringhub — ${observerLine(state.observer).replace(/^Observer: /, 'observer ')}${local}`
}

/** The window's menu bar (on macOS the first entry is the app menu). */
export function appMenu(state: MenuState, actions: MenuActions, platform: NodeJS.Platform): MenuItemConstructorOptions[] {
  const quit: MenuItemConstructorOptions = { id: 'quit', label: platform === 'darwin' ? 'Quit Ringhub' : 'Quit', accelerator: 'CmdOrCtrl+Q', click: () => actions.quit() }
  const ring: MenuItemConstructorOptions = {
    label: 'Ring',
    submenu: [
      { id: 'observer-status', label: observerLine(state.observer), enabled: false },
      reconnectItem(state, actions),
      { type: 'separator' },
      ...localHubItems(state, actions),
    ],
  }
  return [
    ...(platform === 'darwin' ? [{ label: 'Ringhub', submenu: [{ role: 'about' }, { type: 'separator' }, { role: 'hide' }, { role: 'unhide' }, { type: 'separator' }, quit] } satisfies MenuItemConstructorOptions] : []),
    { label: 'File', submenu: [{ id: 'open', label: 'Open Window', click: () => actions.openWindow() }, ...(platform === 'darwin' ? [] : [{ type: 'separator' } as const, quit])] },
    { role: 'editMenu' },
    ring,
    { label: 'View', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }] },
    { role: 'windowMenu' },
  ]
}
