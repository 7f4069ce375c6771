import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { RinghubError, StoreError } from '../base/errors.js'
import type { HubDb } from './db.js'

export type UserRole = 'device' | 'operator'

export interface UserInfo {
  username: string
  role: UserRole
  /** When the user was first added, ms since the epoch (kept when the password is replaced). */
  createdMs: number
}

/** scrypt cost parameters; stored per user, so new defaults apply to new passwords only. */
export interface ScryptParams {
  N: number
  r: number
  p: number
  keylen: number
}

/** N=2^14, r=8, p=1: the RFC 7914 interactive-login cost (~16 MiB, tens of ms), 64-byte key. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = { N: 16384, r: 8, p: 1, keylen: 64 }

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/
const SALT_BYTES = 16

/** A user name, role or password that cannot be stored. */
export class InvalidUserError extends RinghubError {}

interface UserRow {
  username: string
  role: UserRole
  salt: Buffer
  hash: Buffer
  params: string
  created_ms: number
}

/**
 * Device and operator credentials in the hub's SQLite store, as salted scrypt hashes. Hashing and
 * verifying use the async scrypt (libuv pool), so a login never blocks the event loop.
 */
export class UserStore {
  readonly #db: HubDb
  readonly #params: ScryptParams
  readonly #sql
  /**
   * Logins verified since start: user → (stored hash, HMAC of the password under a key that lives
   * only in this process). A repeat login with the same password skips scrypt; a changed or
   * removed user misses, because the row is read every time.
   */
  readonly #verified = new Map<string, { hash: Buffer, mac: Buffer }>()
  readonly #cacheKey = randomBytes(32)

  constructor(db: HubDb, opts: { scrypt?: ScryptParams } = {}) {
    this.#db = db
    this.#params = { ...(opts.scrypt ?? DEFAULT_SCRYPT_PARAMS) }
    const s = db.sqlite
    this.#sql = {
      // Replacing keeps created_ms: the user is the same, only the secret or role changed.
      upsert: s.prepare<UserRow>(`INSERT INTO users (username, role, salt, hash, params, created_ms)
        VALUES (@username, @role, @salt, @hash, @params, @created_ms)
        ON CONFLICT (username) DO UPDATE SET role = excluded.role, salt = excluded.salt, hash = excluded.hash, params = excluded.params`),
      remove: s.prepare<[string]>('DELETE FROM users WHERE username = ?'),
      get: s.prepare<[string], UserRow>('SELECT username, role, salt, hash, params, created_ms FROM users WHERE username = ?'),
      list: s.prepare<[], Pick<UserRow, 'username' | 'role' | 'created_ms'>>('SELECT username, role, created_ms FROM users ORDER BY username'),
    }
  }

  /** Adds a user, or replaces the password and role of an existing one. Resolves once committed. */
  async add(username: string, password: string, role: UserRole): Promise<void> {
    checkUsername(username)
    if (role !== 'device' && role !== 'operator') throw new InvalidUserError(`role must be device or operator, got ${String(role)}`)
    // An empty password would match the empty secret of a CONNECT without one.
    if (typeof password !== 'string' || password.length === 0) throw new InvalidUserError('password must not be empty')
    const params = this.#params
    const salt = randomBytes(SALT_BYTES)
    const hash = await derive(password, salt, params)
    const row: UserRow = {
      username, role, salt, hash,
      params: JSON.stringify({ algo: 'scrypt', ...params }),
      created_ms: this.#db.clock.now(),
    }
    await this.#db.write(() => this.#sql.upsert.run(row))
  }

  /** Removes a user; resolves to whether it existed, once the removal is committed. */
  async remove(username: string): Promise<boolean> {
    return this.#db.write(() => this.#sql.remove.run(username).changes > 0)
  }

  list(): UserInfo[] {
    return this.#db.read(() => this.#sql.list.all())
      .map((row) => ({ username: row.username, role: row.role, createdMs: row.created_ms }))
  }

  /** A stored user's role, without a password (the user proved who they are with a client certificate). */
  roleOf(username: string): UserRole | undefined {
    return USERNAME.test(username) ? this.#db.read(() => this.#sql.get.get(username))?.role : undefined
  }

  /** The user's role if the password is right, else undefined (unknown user or wrong password). */
  async verify(username: string, password: string): Promise<UserRole | undefined> {
    const row = USERNAME.test(username) ? this.#db.read(() => this.#sql.get.get(username)) : undefined
    if (!row) {
      // Spend the same work for an unknown user, so timing does not tell which names exist.
      await derive(password, DUMMY_SALT, this.#params)
      return undefined
    }
    const mac = createHmac('sha256', this.#cacheKey).update(password).digest()
    const known = this.#verified.get(username)
    // Same stored hash (no password change since) and the same password as last time.
    if (known && known.hash.equals(row.hash) && timingSafeEqual(known.mac, mac)) return row.role
    const params = parseParams(row.params, username)
    const actual = await derive(password, row.salt, params)
    if (actual.length !== row.hash.length || !timingSafeEqual(actual, row.hash)) return undefined
    this.#verified.delete(username) // re-insert: Map order is the eviction order
    this.#verified.set(username, { hash: row.hash, mac })
    if (this.#verified.size > VERIFIED_CACHE_ENTRIES) this.#verified.delete(this.#verified.keys().next().value as string)
    return row.role
  }
}

/** Verified logins remembered, so a fleet reconnecting after a restart costs one scrypt each. */
const VERIFIED_CACHE_ENTRIES = 10_000

const DUMMY_SALT = Buffer.alloc(SALT_BYTES)

function checkUsername(username: string): void {
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    throw new InvalidUserError(`invalid user name ${JSON.stringify(username)}: use 1-64 of A-Z a-z 0-9 . _ -`)
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; allow twice that so larger stored costs still verify.
  const maxmem = 256 * params.N * params.r * params.p + 1024 * 1024
  return new Promise((resolve, reject) => {
    scrypt(password, salt, params.keylen, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(err)
      else resolve(key)
    })
  })
}

function parseParams(text: string, username: string): ScryptParams {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new StoreError(`user ${username}: unreadable scrypt parameters`, { cause: err })
  }
  const v = value as Partial<Record<keyof ScryptParams | 'algo', unknown>>
  const ints = [v.N, v.r, v.p, v.keylen].every((n) => Number.isInteger(n) && (n as number) > 0)
  if (v.algo !== 'scrypt' || !ints) throw new StoreError(`user ${username}: bad scrypt parameters ${text}`)
  return { N: v.N as number, r: v.r as number, p: v.p as number, keylen: v.keylen as number }
}
