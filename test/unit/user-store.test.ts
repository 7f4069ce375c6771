import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { HubDb } from '../../hub/src/store/db.js'
import { InvalidUserError, UserStore, type ScryptParams } from '../../hub/src/store/user-store.js'

const root = mkdtempSync(join(tmpdir(), 'ringhub-users-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const dbs: HubDb[] = []
afterEach(() => { for (const db of dbs.splice(0)) db.close() })

// Cheap parameters keep the suite fast; one test uses the defaults.
const FAST: ScryptParams = { N: 1024, r: 8, p: 1, keylen: 32 }
let fileNo = 0

function setup(opts: { scrypt?: ScryptParams } = { scrypt: FAST }) {
  const clock = new ManualClock(1_700_000_000_000)
  // maxBatchWrites 1: each write commits at once, so awaiting works with a clock that stands still.
  const db = HubDb.open({ path: join(root, `u${++fileNo}.sqlite`), clock, log: silentLogger(), maxBatchWrites: 1 })
  dbs.push(db)
  return { clock, db, users: new UserStore(db, opts) }
}

describe('UserStore', () => {
  it('verifies the right password and returns the role', async () => {
    const { users } = setup({})
    await users.add('sensor-1', 's3cret pass', 'device')
    expect(await users.verify('sensor-1', 's3cret pass')).toBe('device')
  })

  it('refuses a wrong password and an unknown user', async () => {
    const { users } = setup()
    await users.add('alice', 'correct horse', 'operator')
    expect(await users.verify('alice', 'correct hors')).toBeUndefined()
    expect(await users.verify('alice', '')).toBeUndefined()
    expect(await users.verify('bob', 'correct horse')).toBeUndefined()
    expect(await users.verify('not a valid name!', 'x')).toBeUndefined()
  })

  it('stores a random salt and the scrypt parameters with each hash', async () => {
    const { users, db } = setup()
    await users.add('a', 'same', 'device')
    await users.add('b', 'same', 'device')
    const rows = db.sqlite.prepare<[], { salt: Buffer, hash: Buffer, params: string }>('SELECT salt, hash, params FROM users ORDER BY username').all()
    expect(rows.map((r) => r.salt.length)).toEqual([16, 16])
    expect(rows[0]?.salt.equals(rows[1]?.salt ?? Buffer.alloc(0))).toBe(false)
    expect(rows[0]?.hash.equals(rows[1]?.hash ?? Buffer.alloc(0))).toBe(false)
    expect(JSON.parse(rows[0]?.params ?? '{}')).toEqual({ algo: 'scrypt', ...FAST })
  })

  it('still verifies passwords hashed with older parameters', async () => {
    const { users, db } = setup()
    await users.add('old', 'pw', 'device')
    const upgraded = new UserStore(db, { scrypt: { N: 2048, r: 8, p: 1, keylen: 64 } })
    expect(await upgraded.verify('old', 'pw')).toBe('device')
    await upgraded.add('new', 'pw', 'operator')
    expect(await users.verify('new', 'pw')).toBe('operator')
  })

  it('adding an existing user replaces password and role but keeps its creation time', async () => {
    const { users, clock } = setup()
    await users.add('gw', 'first', 'device')
    clock.advance(60_000)
    await users.add('gw', 'second', 'operator')
    expect(await users.verify('gw', 'first')).toBeUndefined()
    expect(await users.verify('gw', 'second')).toBe('operator')
    expect(users.list()).toEqual([{ username: 'gw', role: 'operator', createdMs: 1_700_000_000_000 }])
  })

  it('forgets a remembered login once the password changes or the user is removed', async () => {
    const { users, db } = setup()
    await users.add('d1', 'first', 'device')
    expect(await users.verify('d1', 'first')).toBe('device') // now remembered
    expect(await users.verify('d1', 'first')).toBe('device') // from the cache
    expect(await users.verify('d1', 'wrong')).toBeUndefined() // the cache never widens what passes
    await users.add('d1', 'second', 'operator')
    expect(await users.verify('d1', 'first')).toBeUndefined()
    expect(await users.verify('d1', 'second')).toBe('operator')
    // Another process (ringhub users) changes the row behind this store's back.
    db.sqlite.prepare("UPDATE users SET role = 'device' WHERE username = 'd1'").run()
    expect(await users.verify('d1', 'second')).toBe('device')
    expect(await users.remove('d1')).toBe(true)
    expect(await users.verify('d1', 'second')).toBeUndefined()
  })

  it('removes users and says whether one existed', async () => {
    const { users } = setup()
    await users.add('gone', 'pw', 'device')
    expect(await users.remove('gone')).toBe(true)
    expect(await users.remove('gone')).toBe(false)
    expect(await users.verify('gone', 'pw')).toBeUndefined()
    expect(users.list()).toEqual([])
  })

  it('lists users by name with role and creation time', async () => {
    const { users, clock } = setup()
    await users.add('zeta', 'pw', 'device')
    clock.advance(5)
    await users.add('alpha.op_1', 'pw', 'operator')
    expect(users.list()).toEqual([
      { username: 'alpha.op_1', role: 'operator', createdMs: 1_700_000_000_005 },
      { username: 'zeta', role: 'device', createdMs: 1_700_000_000_000 },
    ])
  })

  it.each([
    ['empty', ''],
    ['space', 'a b'],
    ['slash', 'dev/1'],
    ['wildcard', 'dev+'],
    ['non-ascii', 'gerät'],
    ['too long', 'x'.repeat(65)],
  ])('refuses a bad user name (%s) with InvalidUserError', async (_why, name) => {
    const { users } = setup()
    await expect(users.add(name, 'pw', 'device')).rejects.toBeInstanceOf(InvalidUserError)
    expect(users.list()).toEqual([])
  })

  it('accepts a 64-character name, refuses an empty password and an unknown role', async () => {
    const { users } = setup()
    await users.add('A'.repeat(64), 'pw', 'device')
    await expect(users.add('x', '', 'device')).rejects.toBeInstanceOf(InvalidUserError)
    await expect(users.add('x', 'pw', 'admin' as 'device')).rejects.toBeInstanceOf(InvalidUserError)
    expect(users.list().map((u) => u.username)).toEqual(['A'.repeat(64)])
  })
})
