import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { APP_SCHEME_PRIVILEGES, appProtocolHandler, LOCAL_INDEX_URL, resolveAppFile } from '../../ui/src/main/app-protocol.js'
import { contentSecurityPolicy, isTrustedUrl, windowTarget } from '../../ui/src/main/window-policy.js'

const ROOT = '/opt/ringhub/ui/dist/renderer'

describe('the bundled renderer\'s scheme', () => {
  it('is a standard, secure scheme (a real origin for ES modules), and the window loads the copy from it, never from file://', () => {
    expect(APP_SCHEME_PRIVILEGES).toMatchObject({ standard: true, secure: true })
    expect(APP_SCHEME_PRIVILEGES).not.toHaveProperty('bypassCSP')
    const target = windowTarget(null, '', false, LOCAL_INDEX_URL)
    expect(target).toEqual({ kind: 'local', url: 'ringhub-app://bundle/index.html?reason=no-hub', reason: 'no-hub' })
    expect(isTrustedUrl(target.url, { adminUrl: null, localIndexUrl: LOCAL_INDEX_URL })).toBe(true)
  })

  it.each([
    ['the page', 'ringhub-app://bundle/index.html?reason=no-hub', `${ROOT}/index.html`, 'text/html; charset=utf-8'],
    ['the root', 'ringhub-app://bundle/', `${ROOT}/index.html`, 'text/html; charset=utf-8'],
    ['a module', 'ringhub-app://bundle/main.js', `${ROOT}/main.js`, 'text/javascript; charset=utf-8'],
    ['a nested module', 'ringhub-app://bundle/client/admin-client.js', `${ROOT}/client/admin-client.js`, 'text/javascript; charset=utf-8'],
    ['the style sheet', 'ringhub-app://bundle/app.css', `${ROOT}/app.css`, 'text/css; charset=utf-8'],
    ['a source map', 'ringhub-app://bundle/main.js.map', `${ROOT}/main.js.map`, 'application/json; charset=utf-8'],
  ])('serves %s', (_name, url, path, contentType) => {
    expect(resolveAppFile(url, ROOT)).toEqual({ ok: true, path, contentType })
  })

  it.each([
    ['another host', 'ringhub-app://other/index.html'],
    ['another scheme', 'file:///opt/ringhub/ui/dist/renderer/index.html'],
    ['an encoded / and ..', 'ringhub-app://bundle/client%2f..%2f..%2fx.js'],
    ['a backslash', 'ringhub-app://bundle/client%5c..%5cx.js'],
    ['NUL', 'ringhub-app://bundle/main.js%00.html'],
    ['a hidden file', 'ringhub-app://bundle/.env.json'],
    ['a type the renderer has none of', 'ringhub-app://bundle/main.d.ts'],
    ['a malformed escape', 'ringhub-app://bundle/%E0%A4%A.js'],
    ['not a URL', 'nonsense'],
  ])('refuses %s with 404', (_name, url) => {
    expect(resolveAppFile(url, ROOT)).toMatchObject({ ok: false, status: 404 })
  })

  it.each([
    ['ringhub-app://bundle/../../../etc/x.js', 'etc/x.js'],
    ['ringhub-app://bundle/%2e%2e/%2E%2e/x.js', 'x.js'],
  ])('.. segments in %s are resolved by the URL parser, and what is left stays under the root', (url, under) => {
    expect(resolveAppFile(url, ROOT)).toMatchObject({ ok: true, path: `${ROOT}/${under}` })
  })

  describe('the handler', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-app-'))
    mkdirSync(join(dir, 'client'))
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="main.js"></script>')
    writeFileSync(join(dir, 'client', 'x.js'), 'export const x = 1')
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    const csp = contentSecurityPolicy('http://10.0.0.2:8080')
    const handle = appProtocolHandler({ rootDir: dir, readFile, csp: () => csp })

    it('answers a module with a JavaScript MIME type, the app\'s CSP, nosniff and no-cache', async () => {
      const res = await handle({ url: 'ringhub-app://bundle/client/x.js', method: 'GET' })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
      expect(res.headers.get('content-security-policy')).toBe(csp)
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(res.headers.get('cache-control')).toBe('no-cache')
      expect(await res.text()).toBe('export const x = 1')
    })

    it('answers the page, HEAD without a body, a missing file 404, a refused path 404, other methods 405', async () => {
      expect(await (await handle({ url: LOCAL_INDEX_URL, method: 'GET' })).text()).toContain('type="module"')
      const head = await handle({ url: LOCAL_INDEX_URL, method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(await head.text()).toBe('')
      expect((await handle({ url: 'ringhub-app://bundle/none.js', method: 'GET' })).status).toBe(404)
      const refused = await handle({ url: 'ringhub-app://bundle/%2e%2e/x.js', method: 'GET' })
      expect(refused.status).toBe(404)
      expect(refused.headers.get('content-security-policy')).toBe(csp)
      expect((await handle({ url: LOCAL_INDEX_URL, method: 'POST' })).status).toBe(405)
    })
  })
})
