/**
 * The desktop settings file: `settings.json` in Electron's userData directory. Secrets (admin
 * token, gossip keys) are encrypted with `safeStorage` (the OS keychain / DPAPI / libsecret)
 * when it is available, else stored in plain text and reported so (`tokenInPlainText`).
 *
 * Reading never fails the app: a missing file gives the defaults; a file that is not JSON, or
 * of another version, gives the defaults with a warning (and is kept aside as `.corrupt`); a
 * field that is invalid or cannot be decrypted falls back to its default, with a warning.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SafeStorage } from 'electron'
import type { DesktopSettingsView } from '../../../hub/src/contract/desktop-api.js'
import { defaultSettings, FIELDS, type DesktopSettings } from './settings-fields.js'
import type { MainLog } from './main-log.js'

export const SETTINGS_FILE = 'settings.json'
const FILE_VERSION = 1

/** The part of Electron's safeStorage the store uses. */
export type SecretBox = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'>

/** How a secret sits in the file. */
type StoredSecret = { scheme: 'safeStorage', data: string } | { scheme: 'plain', value: string }

interface SettingsFile {
  version: typeof FILE_VERSION
  adminUrl: string | null
  token: StoredSecret
  seeds: string[]
  gossipKeys: StoredSecret
  clusterLabel: string
  observerId: string
  profile: 'lan' | 'edge'
}

export interface SettingsStoreDeps {
  /** Electron's `app.getPath('userData')`. */
  dir: string
  secrets: SecretBox
  /** For the default observer id. */
  hostname: string
  log: MainLog
}

export class SettingsStore {
  readonly path: string
  #current: DesktopSettings
  #plainText = false

  constructor(private readonly deps: SettingsStoreDeps) {
    this.path = join(deps.dir, SETTINGS_FILE)
    this.#current = defaultSettings(deps.hostname)
  }

  get current(): DesktopSettings { return structuredClone(this.#current) }

  /** Reads the file; see the module comment for what happens to a bad one. */
  async load(): Promise<DesktopSettings> {
    const defaults = defaultSettings(this.deps.hostname)
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.log.warn({ err, path: this.path }, 'cannot read settings; using defaults')
      this.#current = defaults
      return this.current
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
      if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== FILE_VERSION) throw new Error(`not a version ${FILE_VERSION} settings object`)
    } catch (err) {
      this.deps.log.warn({ err, path: this.path }, 'settings file is corrupt; using defaults and keeping it as settings.json.corrupt')
      await rename(this.path, `${this.path}.corrupt`).catch(() => {})
      this.#current = defaults
      return this.current
    }
    const file = raw as Record<string, unknown>
    const read = <K extends keyof DesktopSettings>(name: K, value: () => unknown): DesktopSettings[K] => {
      try {
        return (FIELDS[name] as (v: unknown) => DesktopSettings[K])(value())
      } catch (err) {
        this.deps.log.warn({ err, field: name }, 'invalid setting in the settings file; using its default')
        return defaults[name]
      }
    }
    this.#plainText = false
    this.#current = {
      adminUrl: read('adminUrl', () => file.adminUrl),
      token: read('token', () => this.#reveal(file.token)),
      seeds: read('seeds', () => file.seeds),
      gossipKeys: read('gossipKeys', () => JSON.parse(this.#reveal(file.gossipKeys) || '[]')),
      clusterLabel: read('clusterLabel', () => file.clusterLabel),
      observerId: read('observerId', () => file.observerId),
      profile: read('profile', () => file.profile),
    }
    return this.current
  }

  /** Writes `settings` (already validated) atomically: a temp file renamed over the old one. */
  async save(settings: DesktopSettings): Promise<void> {
    const file: SettingsFile = {
      version: FILE_VERSION,
      adminUrl: settings.adminUrl,
      token: this.#seal(settings.token),
      seeds: settings.seeds,
      gossipKeys: this.#seal(JSON.stringify(settings.gossipKeys)),
      clusterLabel: settings.clusterLabel,
      observerId: settings.observerId,
      profile: settings.profile,
    }
    await mkdir(this.deps.dir, { recursive: true })
    const temp = `${this.path}.tmp`
    // Owner-only: the file may hold secrets in plain text where the OS has no keychain.
    await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
    await rename(temp, this.path)
    this.#current = structuredClone(settings)
    this.#plainText = !this.deps.secrets.isEncryptionAvailable()
  }

  /** What the renderer may see: no secrets. */
  view(): DesktopSettingsView {
    const s = this.#current
    return {
      adminUrl: s.adminUrl,
      tokenSet: s.token !== '',
      tokenInPlainText: s.token !== '' && this.#plainText,
      seeds: [...s.seeds],
      gossipKeysSet: s.gossipKeys.length,
      clusterLabel: s.clusterLabel,
      observerId: s.observerId,
      profile: s.profile,
    }
  }

  #seal(secret: string): StoredSecret {
    if (!this.deps.secrets.isEncryptionAvailable()) return { scheme: 'plain', value: secret }
    return { scheme: 'safeStorage', data: this.deps.secrets.encryptString(secret).toString('base64') }
  }

  /** A stored secret in clear; throws (the field falls back to its default) when unreadable. */
  #reveal(stored: unknown): string {
    if (stored === undefined) return ''
    const s = stored as Partial<{ scheme: unknown, data: unknown, value: unknown }>
    if (s.scheme === 'plain' && typeof s.value === 'string') {
      this.#plainText ||= s.value !== ''
      return s.value
    }
    if (s.scheme === 'safeStorage' && typeof s.data === 'string') {
      // Another user's or machine's keychain cannot decrypt it: the secret must be entered again.
      if (!this.deps.secrets.isEncryptionAvailable()) throw new Error('safeStorage is not available to decrypt it')
      return this.deps.secrets.decryptString(Buffer.from(s.data, 'base64'))
    }
    throw new Error('expected { scheme: "safeStorage", data } or { scheme: "plain", value }')
  }
}
