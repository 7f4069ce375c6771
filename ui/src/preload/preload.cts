/**
 * The preload: exposes `window.ringhub` (`DesktopApi`, hub/src/contract/desktop-api.ts) through
 * contextBridge and nothing else (STYLE §11). Each method forwards to one IPC channel; main
 * validates every argument. Listeners receive the payload only, never Electron's event object
 * (which would hand the page `sender`, an ipcRenderer).
 *
 * A sandboxed preload is CommonJS and may require only 'electron' and a few built-ins, not its
 * own other files: hence one self-contained .cts file with type-only imports, and channel names
 * checked against the contract's channel types rather than imported.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file under verbatimModuleSyntax imports CommonJS this way
import electron = require('electron')
import type {
  DesktopApi, DesktopIpcInvokeChannel, DesktopIpcPushChannel, DesktopSettingsInput, LocalHubStatus, ObserverStatus,
} from '../../../hub/src/contract/desktop-api.js'

const { contextBridge, ipcRenderer } = electron

function invoke<T>(channel: DesktopIpcInvokeChannel, ...args: unknown[]): Promise<T> {
  return ipcRenderer.invoke(channel, ...args) as Promise<T>
}

function subscribe<T>(channel: DesktopIpcPushChannel, listener: (payload: T) => void): () => void {
  if (typeof listener !== 'function') throw new TypeError(`${channel}: listener must be a function`)
  const wrapped = (_event: unknown, payload: T): void => { listener(payload) }
  ipcRenderer.on(channel, wrapped)
  return () => { ipcRenderer.removeListener(channel, wrapped) }
}

const api: DesktopApi = {
  apiVersion: 1,
  appVersion: () => invoke('ringhub:app-version'),
  getSettings: () => invoke('ringhub:get-settings'),
  saveSettings: (input: DesktopSettingsInput) => invoke('ringhub:save-settings', input),
  getObserverStatus: () => invoke('ringhub:get-observer-status'),
  onObserverStatus: (listener) => subscribe<ObserverStatus>('ringhub:observer-status', listener),
  reconnect: () => invoke('ringhub:reconnect'),
  getLocalHubStatus: () => invoke('ringhub:get-local-hub-status'),
  onLocalHubStatus: (listener) => subscribe<LocalHubStatus>('ringhub:local-hub-status', listener),
  startLocalHub: () => invoke('ringhub:start-local-hub'),
  stopLocalHub: () => invoke('ringhub:stop-local-hub'),
}

contextBridge.exposeInMainWorld('ringhub', api)
