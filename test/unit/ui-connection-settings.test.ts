import { describe, expect, it } from 'vitest'
import { loadSettings, normalizeHubUrl, saveSettings, tokenInFragment, urlWithoutToken, type PageLocation, type SettingsStorage } from '../../ui/src/renderer/client/connection-settings.js'

/** localStorage's stand-in (the renderer's code takes it as a parameter, so no DOM is needed). */
function memoryStorage(initial: Record<string, string> = {}): SettingsStorage {
  const data = new Map(Object.entries(initial))
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => { data.set(k, v) } }
}

const at = (url: string): PageLocation => {
  const u = new URL(url)
  return { origin: u.origin, search: u.search, hash: u.hash }
}

describe('connection settings', () => {
  it('defaults to the hub that served the page, without a token', () => {
    expect(loadSettings(at('http://127.0.0.1:8080/#ring'), memoryStorage())).toEqual({ hubUrl: 'http://127.0.0.1:8080', token: '' })
    expect(loadSettings(at('http://127.0.0.1:8080/'), undefined)).toEqual({ hubUrl: 'http://127.0.0.1:8080', token: '' })
  })

  it('takes ?hub= and ?token= from the page URL and remembers them', () => {
    const storage = memoryStorage()
    expect(loadSettings(at('http://127.0.0.1:8080/?hub=gw2:8080&token=s%20t'), storage)).toEqual({ hubUrl: 'http://gw2:8080', token: 's t' })
    expect(loadSettings(at('http://127.0.0.1:8080/'), storage)).toEqual({ hubUrl: 'http://gw2:8080', token: 's t' })
  })

  it('prefers the URL to what is stored, and saves normalised settings', () => {
    const storage = memoryStorage({ 'ringhub.hubUrl': 'http://old:1', 'ringhub.token': 'old' })
    expect(loadSettings(at('http://h:8080/?token=new'), storage)).toEqual({ hubUrl: 'http://old:1', token: 'new' })
    saveSettings({ hubUrl: 'https://gw3:8443///', token: 't3' }, storage)
    expect(loadSettings(at('http://h:8080/'), storage)).toEqual({ hubUrl: 'https://gw3:8443', token: 't3' })
  })

  it.each([
    ['gw1:8080', 'http://gw1:8080'],
    ['http://gw1:8080/', 'http://gw1:8080'],
    ['HTTPS://gw1', 'HTTPS://gw1'],
    ['[::1]:8080', 'http://[::1]:8080'],
  ])('normalises %s to %s', (raw, url) => {
    expect(normalizeHubUrl(raw)).toBe(url)
  })
})

describe('a token in the fragment (how the desktop app passes it)', () => {
  it('is used, wins over the query and storage, and is not stored', () => {
    const storage = memoryStorage({ 'ringhub.token': 'stored' })
    expect(loadSettings(at('http://gw1:8080/?token=q#token=a%2Bb%3D'), storage)).toEqual({ hubUrl: 'http://gw1:8080', token: 'a+b=' })
    expect(storage.getItem('ringhub.token')).toBe('q')
    expect(loadSettings(at('http://gw1:8080/#ring'), memoryStorage()).token).toBe('')
  })

  it.each([
    ['#token=abc', 'abc'],
    ['token=abc', 'abc'],
    ['#ring', undefined],
    ['', undefined],
    ['#x=1', undefined],
  ])('reads %j as %j', (hash, token) => {
    expect(tokenInFragment(hash)).toBe(token)
  })

  it.each([
    ['http://gw1:8080/#token=abc', 'http://gw1:8080/#ring'],
    ['http://gw1:8080/?token=abc&hub=x#topics', 'http://gw1:8080/?hub=x#topics'],
    ['http://gw1:8080/#devices', undefined],
  ])('strips the token from %s', (href, stripped) => {
    expect(urlWithoutToken(href, 'ring')).toBe(stripped)
  })
})
