/**
 * The IPC side of `DesktopApi` (hub/src/contract/desktop-api.ts): one handler per invoke channel,
 * each with the list of arguments it takes and a validator for each. Every call is checked
 * before anything runs (STYLE §11): the sending frame must be a trusted place (the configured
 * hub or the local copy), the argument count must match, every argument must validate. A
 * refusal rejects the renderer's promise with an `IpcArgumentError` naming the field.
 */
import type {
  DesktopIpcInvokeChannel, DesktopSettingsInput, DesktopSettingsView, LocalHubStatus, ObserverStatus,
} from '../../../hub/src/contract/desktop-api.js'
import type { MainLog } from './main-log.js'
import { SettingsError, settingsInput } from './settings-fields.js'
import { isTrustedUrl, type TrustedPlaces } from './window-policy.js'

export class IpcArgumentError extends Error {
  constructor(readonly channel: string, message: string, options?: { cause?: unknown }) {
    super(`${channel}: ${message}`, options)
    this.name = 'IpcArgumentError'
  }
}

/** What main does for the renderer; app-controller.ts implements it. */
export interface DesktopBackend {
  appVersion(): string
  getSettings(): DesktopSettingsView
  saveSettings(input: DesktopSettingsInput): Promise<DesktopSettingsView>
  getObserverStatus(): ObserverStatus
  reconnect(): Promise<void>
  getLocalHubStatus(): LocalHubStatus
  startLocalHub(): Promise<LocalHubStatus>
  stopLocalHub(): Promise<LocalHubStatus>
}

interface Handler {
  /** One validator per argument, in order; their results are what `call` receives. */
  args: ReadonlyArray<(value: unknown) => unknown>
  call(backend: DesktopBackend, args: unknown[]): unknown
}

export const HANDLERS: Readonly<Record<DesktopIpcInvokeChannel, Handler>> = {
  'ringhub:app-version': { args: [], call: (b) => b.appVersion() },
  'ringhub:get-settings': { args: [], call: (b) => b.getSettings() },
  'ringhub:save-settings': { args: [settingsInput], call: (b, [input]) => b.saveSettings(input as DesktopSettingsInput) },
  'ringhub:get-observer-status': { args: [], call: (b) => b.getObserverStatus() },
  'ringhub:reconnect': { args: [], call: (b) => b.reconnect() },
  'ringhub:get-local-hub-status': { args: [], call: (b) => b.getLocalHubStatus() },
  'ringhub:start-local-hub': { args: [], call: (b) => b.startLocalHub() },
  'ringhub:stop-local-hub': { args: [], call: (b) => b.stopLocalHub() },
}

export const INVOKE_CHANNELS = Object.keys(HANDLERS) as DesktopIpcInvokeChannel[]

/** Checks one call and runs it; throws `IpcArgumentError` for a refused one. */
export async function dispatch(backend: DesktopBackend, places: TrustedPlaces, channel: DesktopIpcInvokeChannel, senderUrl: string | undefined, raw: readonly unknown[]): Promise<unknown> {
  const handler = HANDLERS[channel]
  if (senderUrl === undefined || !isTrustedUrl(senderUrl, places)) {
    throw new IpcArgumentError(channel, `refused: the calling page (${senderUrl ?? 'unknown'}) is neither the configured hub nor the app's own copy`)
  }
  if (raw.length !== handler.args.length) {
    throw new IpcArgumentError(channel, `expected ${handler.args.length} argument${handler.args.length === 1 ? '' : 's'}, got ${raw.length}`)
  }
  let args: unknown[]
  try {
    args = handler.args.map((validate, i) => validate(raw[i]))
  } catch (err) {
    if (err instanceof SettingsError) throw new IpcArgumentError(channel, err.message, { cause: err })
    throw err
  }
  return await handler.call(backend, args)
}

/** The part of Electron's ipcMain used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: { senderFrame: { url: string } | null }, ...args: unknown[]) => unknown): void
  removeHandler(channel: string): void
}

/** Registers every handler; returns the function that removes them. */
export function registerIpc(deps: { ipcMain: IpcMainLike, backend: DesktopBackend, places: () => TrustedPlaces, log: MainLog }): () => void {
  for (const channel of INVOKE_CHANNELS) {
    deps.ipcMain.handle(channel, async (event, ...args) => {
      try {
        return await dispatch(deps.backend, deps.places(), channel, event.senderFrame?.url, args)
      } catch (err) {
        if (err instanceof IpcArgumentError) deps.log.warn({ channel, err: err.message }, 'IPC call refused')
        throw err
      }
    })
  }
  return () => { for (const channel of INVOKE_CHANNELS) deps.ipcMain.removeHandler(channel) }
}
