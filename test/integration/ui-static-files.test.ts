import { request } from 'node:http'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/src/hub.js'
import { RENDERER_DIRS, safePath } from '../../hub/src/admin/static-files.js'
import { REPO_ROOT, startHub, tempDir } from '../helpers/hubs.js'

// Every hub serves the operator UI at / on its admin port (issue 6), and nothing else of its disk.
const dir = tempDir()
let hub: Hub

/** A raw GET (fetch would normalise `..` and `%2e%2e` away before sending). */
function get(path: string): Promise<{ status: number, type: string | undefined, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: hub.ports.admin, path, method: 'GET' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  // A secret next to the served directories: no request may reach it.
  mkdirSync(join(dir.path, 'data'), { recursive: true })
  writeFileSync(join(REPO_ROOT, 'ui', 'secret-test.txt'), 'do not serve')
  hub = await startHub(join(dir.path, 'data'), { allowAnonymous: true })
})

afterAll(async () => {
  await hub?.stop()
  const { rmSync } = await import('node:fs')
  rmSync(join(REPO_ROOT, 'ui', 'secret-test.txt'), { force: true })
  dir.remove()
})

describe('the UI files on the admin port', () => {
  it('serves index.html at / and the modules and stylesheet with their content types', async () => {
    expect(RENDERER_DIRS).toEqual([join(REPO_ROOT, 'ui/public'), join(REPO_ROOT, 'ui/dist/renderer')])
    const index = await get('/')
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' })
    expect(index.body).toContain('<script type="module" src="main.js">')
    expect(await get('/index.html?x=1')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' })
    expect(await get('/main.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' })
    expect(await get('/client/admin-client.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' })
    expect(await get('/app.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' })
  })

  it('serves the channel client the live views import, and its contract, from the hub\'s own build at /hub/ (issue 8)', async () => {
    for (const [url, file] of [['/hub/client/channels.js', 'hub/dist/client/channels.js'], ['/hub/contract/channels.js', 'hub/dist/contract/channels.js']] as const) {
      const res = await get(url)
      expect(res).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' })
      expect(res.body).toBe(readFileSync(join(REPO_ROOT, file), 'utf8'))
    }
  })

  it.each([
    // Nothing else of hub/dist: not a module next to the allowed ones, not its maps or typings, not the dist path itself.
    '/hub/hub.js', '/hub/main.js', '/hub/admin/static-files.js', '/hub/client/channels.js.map', '/hub/client/channels.d.ts',
    '/hub/contract/admin-api.js', '/hub/dist/client/channels.js', '/hub/client/../admin/static-files.js', '/hub/%2e%2e/hub.js', '/hub/',
  ])('answers %s with a 404: only the listed hub modules are served', async (path) => {
    const res = await get(path)
    expect(res.status).toBe(404)
    expect(JSON.parse(res.body)).toHaveProperty('error')
  })

  it.each([
    '/../secret-test.txt', '/%2e%2e/secret-test.txt', '/..%2fsecret-test.txt', '/%2E%2E%2Fsecret-test.txt',
    '/..\\secret-test.txt', '/%5c..%5csecret-test.txt', '/main.js%00.css', '/%zz', '/.tsbuildinfo', '/missing.js',
  ])('answers %s with a 404 and nothing from the disk', async (path) => {
    const res = await get(path)
    expect(res.status).toBe(404)
    expect(res.body).not.toContain('do not serve')
    expect(JSON.parse(res.body)).toHaveProperty('error')
  })

  it('leaves /api to the API: an unknown API path is the API\'s JSON 404, known ones still answer', async () => {
    expect(JSON.parse((await get('/api/v1/nothing')).body)).toEqual({ error: 'no route GET /api/v1/nothing' })
    const ring = await get('/api/v1/ring')
    expect(ring.status).toBe(200)
    expect(JSON.parse(ring.body)).toMatchObject({ apiVersion: 1, self: 'h1' })
    expect((await get('/healthz')).status).toBe(200)
  })
})

describe('safePath', () => {
  it.each([
    ['/', 'index.html'],
    ['/a/b.js', 'a/b.js'],
    ['//a//b.js', 'a/b.js'],
    ['/caf%C3%A9.css', 'café.css'],
    ['/../x', undefined],
    ['/a/%2e%2e/x', undefined],
    ['/.hidden', undefined],
    ['/a\\b', undefined],
    ['/a%00', undefined],
    ['/%', undefined],
    ['relative', undefined],
  ])('%s → %s', (raw, expected) => {
    expect(safePath(raw)).toBe(expected)
  })
})
