import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { recordingLog } from '../../ui/src/main/main-log.js'
import { defaultSettings, settingsInput, SettingsError, applyInput, type DesktopSettings } from '../../ui/src/main/settings-fields.js'
import { SETTINGS_FILE, SettingsStore, type SecretBox } from '../../ui/src/main/settings-store.js'
import { tempDir } from '../helpers/hubs.js'

const KEY = Buffer.alloc(32, 7).toString('base64')

describe('settings input validation', () => {
  it.each([
    ['adminUrl http', { adminUrl: 'http://10.0.0.2:8080' }, { adminUrl: 'http://10.0.0.2:8080/' }],
    ['adminUrl https with path', { adminUrl: 'https://ring.example/ops/' }, { adminUrl: 'https://ring.example/ops/' }],
    ['adminUrl null forgets the hub', { adminUrl: null }, { adminUrl: null }],
    ['token with base64 and url-safe characters', { token: 'abc-DEF_123.~+/=' }, { token: 'abc-DEF_123.~+/=' }],
    ['empty token clears it', { token: '' }, { token: '' }],
    ['seeds host:port and IPv6', { seeds: ['h1.local:7946', '[fe80::1]:7946', '10.0.0.2:1'] }, { seeds: ['h1.local:7946', '[fe80::1]:7946', '10.0.0.2:1'] }],
    ['gossip key of 32 bytes', { gossipKeys: [KEY] }, { gossipKeys: [KEY] }],
    ['cluster label', { clusterLabel: 'plant-3 line A' }, { clusterLabel: 'plant-3 line A' }],
    ['observer id', { observerId: 'desk_1.ops-A' }, { observerId: 'desk_1.ops-A' }],
    ['profile', { profile: 'edge' }, { profile: 'edge' }],
    ['undefined fields are skipped', { token: undefined }, {}],
  ])('accepts %s', (_name, input, expected) => {
    expect(settingsInput(input)).toEqual(expected)
  })

  it.each([
    ['not an object', 'http://x', 'settings: expected an object, got string'],
    ['an array', [], 'settings: expected an object, got an array'],
    ['null', null, 'settings: expected an object, got null'],
    ['an unknown field', { adminURL: 'http://x' }, 'adminURL: unknown setting'],
    ['a __proto__ key', JSON.parse('{"__proto__": {"adminUrl": "http://x"}}') as unknown, '__proto__: unknown setting'],
    ['a class instance', new (class Fake { adminUrl = 'http://x/' })(), 'settings: expected a plain object'],
    ['adminUrl of another type', { adminUrl: 8080 }, 'adminUrl: expected a string, got number'],
    ['adminUrl not a URL', { adminUrl: 'hub-1:8080x' }, 'adminUrl: scheme must be http or https, got hub-1'],
    ['adminUrl garbage', { adminUrl: '::::' }, 'adminUrl: not a URL'],
    ['adminUrl file:', { adminUrl: 'file:///etc/passwd' }, 'adminUrl: scheme must be http or https, got file'],
    ['adminUrl javascript:', { adminUrl: 'javascript:alert(1)' }, 'adminUrl: scheme must be http or https, got javascript'],
    ['adminUrl with credentials', { adminUrl: 'http://user:pw@h:8080' }, 'adminUrl: must not contain a user name or password'],
    ['adminUrl with a fragment', { adminUrl: 'http://h:8080/#token=x' }, 'adminUrl: must not contain a #fragment'],
    ['adminUrl too long', { adminUrl: `http://h/${'a'.repeat(2_048)}` }, 'adminUrl: longer than 2048 characters'],
    ['token with a space', { token: 'abc def' }, 'token: only letters, digits and - . _ ~ + / = are allowed'],
    ['token with a newline (header injection)', { token: 'abc\r\nX-Evil: 1' }, 'token: only letters'],
    ['token too long', { token: 'a'.repeat(513) }, 'token: longer than 512 characters'],
    ['token of another type', { token: 42 }, 'token: expected a string, got number'],
    ['seeds not an array', { seeds: 'h1:7946' }, 'seeds: expected an array, got string'],
    ['a seed without port', { seeds: ['h1'] }, 'seeds[0]: expected host:port'],
    ['a seed with port 0', { seeds: ['h1:0'] }, 'seeds[0]: expected host:port with a port in 1…65535'],
    ['a seed with port 70000', { seeds: ['ok:1', 'h1:70000'] }, 'seeds[1]: expected host:port'],
    ['a seed with a scheme', { seeds: ['udp://h1:7946'] }, 'seeds[0]: expected host:port'],
    ['too many seeds', { seeds: Array.from({ length: 33 }, (_, i) => `h${i}:7946`) }, 'seeds: more than 32 entries'],
    ['a gossip key of 16 bytes', { gossipKeys: [Buffer.alloc(16).toString('base64')] }, 'gossipKeys[0]: expected the base64 of 32 bytes'],
    ['a gossip key that is not base64', { gossipKeys: ['!'.repeat(44)] }, 'gossipKeys[0]: expected the base64 of 32 bytes'],
    ['too many gossip keys', { gossipKeys: Array.from({ length: 9 }, () => KEY) }, 'gossipKeys: more than 8 entries'],
    ['cluster label with control characters', { clusterLabel: 'a\u0000b' }, 'clusterLabel: only printable ASCII'],
    ['cluster label too long', { clusterLabel: 'x'.repeat(65) }, 'clusterLabel: longer than 64 characters'],
    ['empty observer id', { observerId: '' }, 'observerId: expected 1 or more letters'],
    ['observer id with a space', { observerId: 'desk 1' }, 'observerId: expected 1 or more letters'],
    ['observer id too long', { observerId: 'x'.repeat(129) }, 'observerId: longer than 128 characters'],
    ['unknown profile', { profile: 'wan' }, 'profile: expected "lan" or "edge"'],
  ])('refuses %s', (_name, input, message) => {
    let caught: unknown
    try { settingsInput(input) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(SettingsError)
    expect((caught as Error).message).toContain(message)
  })

  it('applies an input over the current settings, keeping absent fields', () => {
    const current = defaultSettings('box')
    const next = applyInput({ ...current, token: 'keep' }, { adminUrl: 'http://h:8080/', seeds: ['h:7946'] })
    expect(next).toEqual({ ...current, token: 'keep', adminUrl: 'http://h:8080/', seeds: ['h:7946'] })
  })

  it('derives the default observer id from a sanitised host name', () => {
    expect(defaultSettings('Ops Laptop (2)').observerId).toBe('desktop-Ops-Laptop--2-')
    expect(defaultSettings('').observerId).toBe('desktop-host')
  })
})

/** A reversible fake of safeStorage that marks its output, so a test can tell it was used. */
function fakeSecrets(available = true): SecretBox & { calls: number } {
  const box = {
    calls: 0,
    isEncryptionAvailable: () => available,
    encryptString: (text: string) => { box.calls++; return Buffer.from(`enc:${Buffer.from(text).toString('hex')}`) },
    decryptString: (data: Buffer) => {
      const s = data.toString()
      if (!s.startsWith('enc:')) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.')
      return Buffer.from(s.slice(4), 'hex').toString()
    },
  }
  return box
}

const dirs: Array<{ remove: () => void }> = []
afterEach(() => { for (const d of dirs.splice(0)) d.remove() })

function store(secrets = fakeSecrets()): { store: SettingsStore, dir: string, log: ReturnType<typeof recordingLog> } {
  const dir = tempDir('ringhub-desktop-')
  dirs.push(dir)
  const log = recordingLog()
  return { store: new SettingsStore({ dir: dir.path, secrets, hostname: 'box', log }), dir: dir.path, log }
}

const FULL: DesktopSettings = {
  adminUrl: 'http://10.0.0.2:8080/', token: 's3cret-token', seeds: ['10.0.0.2:7946'], gossipKeys: [KEY],
  clusterLabel: 'plant', observerId: 'desk-1', profile: 'edge',
}

describe('settings store', () => {
  it('gives the defaults when there is no file, without a warning', async () => {
    const { store: s, log } = store()
    expect(await s.load()).toEqual(defaultSettings('box'))
    expect(log.entries).toEqual([])
    expect(s.view()).toMatchObject({ adminUrl: null, tokenSet: false, seeds: [], observerId: 'desktop-box' })
  })

  it('round-trips every field, with the token and gossip keys encrypted on disk', async () => {
    const secrets = fakeSecrets()
    const { store: s, dir } = store(secrets)
    await s.save(FULL)
    const text = readFileSync(join(dir, SETTINGS_FILE), 'utf8')
    expect(text).not.toContain('s3cret-token')
    expect(text).not.toContain(KEY)
    expect(JSON.parse(text)).toMatchObject({ version: 1, token: { scheme: 'safeStorage' }, gossipKeys: { scheme: 'safeStorage' } })
    expect(secrets.calls).toBe(2)
    if (process.platform !== 'win32') expect(statSync(join(dir, SETTINGS_FILE)).mode & 0o777).toBe(0o600)
    const again = new SettingsStore({ dir, secrets, hostname: 'box', log: recordingLog() })
    expect(await again.load()).toEqual(FULL)
    expect(again.view()).toEqual({
      adminUrl: FULL.adminUrl, tokenSet: true, tokenInPlainText: false, seeds: FULL.seeds, gossipKeysSet: 1,
      clusterLabel: 'plant', observerId: 'desk-1', profile: 'edge',
    })
  })

  it('stores secrets in plain text when the OS has no encryption, and says so', async () => {
    const { store: s, dir } = store(fakeSecrets(false))
    await s.save(FULL)
    expect(JSON.parse(readFileSync(join(dir, SETTINGS_FILE), 'utf8'))).toMatchObject({ token: { scheme: 'plain', value: 's3cret-token' } })
    expect(s.view().tokenInPlainText).toBe(true)
    const again = new SettingsStore({ dir, secrets: fakeSecrets(false), hostname: 'box', log: recordingLog() })
    expect((await again.load()).token).toBe('s3cret-token')
    expect(again.view().tokenInPlainText).toBe(true)
  })

  it.each([
    ['not JSON', '{"version": 1, "adminUrl": '],
    ['JSON of another shape', '[1, 2, 3]'],
    ['another version', '{"version": 99, "adminUrl": "http://h:1/"}'],
  ])('falls back to the defaults with a warning for a file that is %s, keeping it aside', async (_name, content) => {
    const { store: s, dir, log } = store()
    writeFileSync(join(dir, SETTINGS_FILE), content)
    expect(await s.load()).toEqual(defaultSettings('box'))
    expect(log.entries.map((e) => [e.level, e.msg])).toEqual([['warn', expect.stringContaining('settings file is corrupt')]])
    expect(readFileSync(join(dir, `${SETTINGS_FILE}.corrupt`), 'utf8')).toBe(content)
    expect(existsSync(join(dir, SETTINGS_FILE))).toBe(false)
    // Saving again works over the corrupt one.
    await s.save(FULL)
    expect(await s.load()).toEqual(FULL)
  })

  it('drops only the invalid fields of a file, each with a warning', async () => {
    const { store: s, dir, log } = store()
    writeFileSync(join(dir, SETTINGS_FILE), JSON.stringify({
      version: 1, adminUrl: 'file:///etc/passwd', token: { scheme: 'plain', value: 'ok-token' }, seeds: ['h:7946', 'bad'],
      gossipKeys: { scheme: 'plain', value: '[]' }, clusterLabel: 'plant', observerId: 'desk-1', profile: 'wan',
    }))
    const loaded = await s.load()
    expect(loaded).toEqual({ ...defaultSettings('box'), token: 'ok-token', clusterLabel: 'plant', observerId: 'desk-1' })
    expect(log.entries.filter((e) => e.level === 'warn').map((e) => (e.obj as { field: string }).field).sort()).toEqual(['adminUrl', 'profile', 'seeds'])
  })

  it('forgets a secret it cannot decrypt (another keychain) with a warning', async () => {
    const { store: s, dir, log } = store()
    writeFileSync(join(dir, SETTINGS_FILE), JSON.stringify({
      version: 1, adminUrl: 'http://h:8080/', token: { scheme: 'safeStorage', data: Buffer.from('garbage').toString('base64') },
      seeds: [], gossipKeys: { scheme: 'safeStorage', data: 'AAAA' }, clusterLabel: '', observerId: 'desk-1', profile: 'lan',
    }))
    const loaded = await s.load()
    expect(loaded.adminUrl).toBe('http://h:8080/')
    expect(loaded.token).toBe('')
    expect(loaded.gossipKeys).toEqual([])
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(2)
  })

  it('never shows secrets in the view', async () => {
    const { store: s } = store()
    await s.save(FULL)
    expect(JSON.stringify(s.view())).not.toContain('s3cret-token')
    expect(JSON.stringify(s.view())).not.toContain(KEY)
  })
})
