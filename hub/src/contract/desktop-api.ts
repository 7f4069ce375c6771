/**
 * The desktop app's preload API: what `window.ringhub` offers the renderer inside Electron
 * (ui/src/preload). In a plain browser `window.ringhub` is undefined and the renderer works
 * without it. Types only, so the renderer imports it with `import type` and no Electron code.
 *
 * Every call goes through IPC to Electron main, which validates each argument (type, length, URL
 * scheme, token charset) and rejects a bad one with an Error whose message says which field and
 * why (STYLE §11). Append-only, like the admin API.
 *
 * The admin token reaches a renderer that a hub serves through the URL fragment, which is never
 * sent to the server: the app loads `<adminUrl>/#token=<token, URI-encoded>` when a token is set.
 * When no hub is configured or it does not answer, the app loads its bundled copy of the renderer
 * (`ringhub-app://bundle/index.html`, ui/dist/renderer served by main) with
 * `?reason=<DesktopLocalCopyReason>`: the renderer then shows
 * its settings prompt and saves through `window.ringhub.saveSettings`.
 */
import type { RingView } from './ring-view.js'

/** Why the window shows the bundled copy: no hub configured yet, or the hub did not answer. */
export type DesktopLocalCopyReason = 'no-hub' | 'unreachable'

/** Settings as the renderer sees them: secrets are never sent back, only whether they are set. */
export interface DesktopSettingsView {
  /** The hub whose admin port serves the UI, e.g. `http://10.0.0.2:8080`; null: none yet. */
  adminUrl: string | null
  /** An admin token is stored (encrypted with the OS keychain when it offers one). */
  tokenSet: boolean
  /** The token is stored in plain text because the OS offers no encryption (safeStorage). */
  tokenInPlainText: boolean
  /** Gossip addresses (`host:port`) the embedded observer joins through; empty: no observer. */
  seeds: string[]
  /** Gossip encryption keys are stored (the ring's `--gossip-key`). */
  gossipKeysSet: number
  /** The ring's `--cluster-label`; empty: none. */
  clusterLabel: string
  /** The observer's member id in the ring. */
  observerId: string
  /** Gossip timing of the ring (`--profile`). */
  profile: 'lan' | 'edge'
}

/**
 * A change to the settings; absent fields keep their value. `token: ''` and `gossipKeys: []`
 * clear the secret; `adminUrl: null` forgets the hub.
 *
 * Limits (main refuses anything else): `adminUrl` an http: or https: URL without credentials,
 * at most 2048 characters; `token` at most 512 characters of `A-Z a-z 0-9 - . _ ~ + / =`;
 * `seeds` at most 32 `host:port` entries; `gossipKeys` at most 8, each the base64 of 32 bytes;
 * `clusterLabel` at most 64 printable ASCII characters; `observerId` 1 to 128 characters of
 * `A-Z a-z 0-9 - . _`.
 */
export interface DesktopSettingsInput {
  adminUrl?: string | null
  token?: string
  seeds?: string[]
  gossipKeys?: string[]
  clusterLabel?: string
  observerId?: string
  profile?: 'lan' | 'edge'
}

/** The embedded observer member's state. */
export interface ObserverStatus {
  /** `off`: no seeds configured (or stopped); `failed`: see `error`, retried on reconnect. */
  state: 'off' | 'starting' | 'running' | 'failed'
  /** The gossip address hubs reach the observer at, while running. */
  address: string | null
  error: string | null
  /** The ring as the observer sees it, while running. */
  ring: RingView | null
}

/** The optional local hub that the app runs in a utility process. */
export interface LocalHubStatus {
  state: 'stopped' | 'starting' | 'running' | 'stopping' | 'failed'
  /** Process id while it runs. */
  pid: number | null
  /** The local hub's admin URL once it reported its ports. */
  adminUrl: string | null
  error: string | null
}

/** `window.ringhub` inside the desktop app. */
export interface DesktopApi {
  readonly apiVersion: 1
  /** The app's version (Ringhub's version). */
  appVersion(): Promise<string>
  getSettings(): Promise<DesktopSettingsView>
  /** Validates, stores and applies (restarts the observer, reloads the window when the hub changed). */
  saveSettings(input: DesktopSettingsInput): Promise<DesktopSettingsView>
  getObserverStatus(): Promise<ObserverStatus>
  /** Called with every observer status change (ring views included); returns an unsubscribe. */
  onObserverStatus(listener: (status: ObserverStatus) => void): () => void
  /** Restarts the observer and reloads the window from the configured hub. */
  reconnect(): Promise<void>
  getLocalHubStatus(): Promise<LocalHubStatus>
  onLocalHubStatus(listener: (status: LocalHubStatus) => void): () => void
  startLocalHub(): Promise<LocalHubStatus>
  stopLocalHub(): Promise<LocalHubStatus>
}

/**
 * The IPC channels behind `DesktopApi` (ui/src/preload and ui/src/main), one per call plus the
 * two push channels. The sandboxed preload cannot import this module's values, so the names are
 * a type both sides check their string literals against.
 */
export type DesktopIpcInvokeChannel =
  | 'ringhub:app-version'
  | 'ringhub:get-settings'
  | 'ringhub:save-settings'
  | 'ringhub:get-observer-status'
  | 'ringhub:reconnect'
  | 'ringhub:get-local-hub-status'
  | 'ringhub:start-local-hub'
  | 'ringhub:stop-local-hub'

export type DesktopIpcPushChannel = 'ringhub:observer-status' | 'ringhub:local-hub-status'
