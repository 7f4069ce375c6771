import { RinghubError } from '../base/errors.js'

/** AES-256: every gossip key is 32 bytes (memberlist also takes 16 and 24; we do not). */
export const KEY_BYTES = 32

/** A keyring operation was refused (bad key size, unknown key, removing the primary key). */
export class KeyringError extends RinghubError {}

/**
 * The gossip encryption keys (memberlist `keyring.go`). The primary key encrypts everything we
 * send; every installed key is tried when decrypting. Rotation without membership flaps, run on
 * every hub in turn (memberlist / Serf `keys` workflow):
 *
 * 1. `install(new)` everywhere: everyone can now read packets under the new key;
 * 2. `use(new)` everywhere: everyone now sends under it, still reading the old one;
 * 3. `remove(old)` everywhere: packets under the old key are refused from then on.
 *
 * Keys are copied in and out, so callers cannot change them behind the ring's back.
 */
export class Keyring {
  /** Installed keys, the primary first (the order decryption tries them in). */
  #keys: Uint8Array[] = []

  /**
   * @param keys keys to install; `primary` (default: the first of `keys`) becomes the primary
   *   key and is installed if it is not among `keys`.
   */
  constructor(keys: readonly Uint8Array[], primary?: Uint8Array) {
    for (const key of keys) this.install(key)
    if (primary !== undefined) {
      this.install(primary)
      this.use(primary)
    }
    if (this.#keys.length === 0) throw new KeyringError('a keyring needs at least one key')
  }

  /** Installs `key` for decryption; a no-op when it is installed already. The first key becomes primary. */
  install(key: Uint8Array): void {
    validateKey(key)
    if (this.#indexOf(key) === -1) this.#keys.push(Uint8Array.from(key))
  }

  /** Makes an installed `key` the primary (encrypting) key. */
  use(key: Uint8Array): void {
    validateKey(key)
    const index = this.#indexOf(key)
    if (index === -1) throw new KeyringError('the requested key is not installed')
    const [chosen] = this.#keys.splice(index, 1)
    this.#keys.unshift(chosen as Uint8Array)
  }

  /** Uninstalls `key`; refuses the primary key (memberlist: "Removing the primary key is not allowed"). */
  remove(key: Uint8Array): void {
    validateKey(key)
    const index = this.#indexOf(key)
    if (index === 0) throw new KeyringError('removing the primary key is not allowed')
    if (index > 0) this.#keys.splice(index, 1)
  }

  /** The primary key (a copy). */
  get primary(): Uint8Array {
    return Uint8Array.from(this.#keys[0] as Uint8Array)
  }

  /** All installed keys, primary first (copies). */
  get keys(): Uint8Array[] {
    return this.#keys.map((key) => Uint8Array.from(key))
  }

  #indexOf(key: Uint8Array): number {
    return this.#keys.findIndex((k) => Buffer.compare(k, key) === 0)
  }
}

function validateKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
    throw new KeyringError(`a gossip key must be ${KEY_BYTES} bytes (AES-256), got ${key instanceof Uint8Array ? key.byteLength : typeof key}`)
  }
}
