import { connect as netConnect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminServer } from '../../hub/src/admin/admin-server.js'
import { silentLogger } from '../../hub/src/base/log.js'
import type { Hub } from '../../hub/src/hub.js'
import { HubMetrics } from '../../hub/src/metrics/hub-metrics.js'
import { counter } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'

// Malformed admin API requests the other admin tests do not send (admin-api.test.ts covers bad
// query values and publish bodies): unknown methods, path traversal, bad percent-escapes, huge
// bodies and headers, broken HTTP, a slow client. Raw sockets, so the bytes are exactly these
// (fetch would normalise the path and refuse to send most of them). Every one gets a 4xx with a
// JSON error, is counted once in ringhub_admin_bad_requests_total{reason}, and the hub serves on.

const dir = tempDir()
let hub: Hub
let admin: string

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true })
  admin = `127.0.0.1:${hub.ports.admin}`
})

afterAll(async () => {
  await hub?.stop()
  dir.remove()
})

interface RawAnswer { status: number, headers: string, body: string }

/** Writes `head` (CRLF line ends added) and `body`, then reads the answer until the hub closes or answers whole. */
function rawHttp(port: number, head: string[], body: Buffer | string = '', deadlineMs = 5_000, endHead = true): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${head[0]} within ${deadlineMs} ms`)) }, deadlineMs)
    const finish = (): void => {
      clearTimeout(timer)
      const text = Buffer.concat(chunks).toString('utf8')
      const split = text.indexOf('\r\n\r\n')
      const headers = split < 0 ? text : text.slice(0, split)
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0), headers, body: split < 0 ? '' : text.slice(split + 4) })
      socket.destroy()
    }
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      // Answered whole (Content-Length reached): no need to wait for the close.
      const text = Buffer.concat(chunks).toString('utf8')
      const split = text.indexOf('\r\n\r\n')
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, split))?.[1]
      if (split >= 0 && length !== undefined && Buffer.byteLength(text.slice(split + 4)) >= Number(length)) finish()
    })
    socket.on('error', () => { /* the hub may close while we still send a huge body */ })
    socket.on('close', finish)
    socket.write(head.join('\r\n') + (endHead ? '\r\n\r\n' : '\r\n'))
    if (body.length > 0) socket.write(body)
  })
}

const badRequests = (reason?: string): Promise<number> => counter(admin, 'ringhub_admin_bad_requests_total', reason === undefined ? undefined : `reason="${reason}"`)

const get = (target: string, extra: string[] = []): string[] => [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...extra]
const post = (target: string, length: number, extra: string[] = []): string[] => [`POST ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', 'Content-Type: application/json', `Content-Length: ${length}`, ...extra]
const HUGE = Buffer.alloc(3 * 1024 * 1024, 0x61)

describe('malformed admin requests', () => {
  it.each<[string, () => [string[], Buffer | string], number, string]>([
    ['unknown route under /api', () => [get('/api/v1/nothing-here'), ''], 404, 'no-route'],
    ['PATCH on a GET route (405, Allow: GET)', () => [['PATCH /api/v1/ring HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close', 'Content-Length: 0'], ''], 405, 'method-not-allowed'],
    ['GET on the publish route (405, Allow: POST)', () => [get('/api/v1/publish'), ''], 405, 'method-not-allowed'],
    ['a method HTTP does not have', () => [['BREW /api/v1/ring HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close'], ''], 400, 'malformed-http'],
    ['path traversal ../', () => [get('/../../../etc/passwd'), ''], 404, 'bad-path'],
    ['path traversal %2e%2e', () => [get('/%2e%2e/%2e%2e/etc/passwd'), ''], 404, 'bad-path'],
    ['path traversal with a backslash', () => [get('/..%5c..%5cetc%5cpasswd'), ''], 404, 'bad-path'],
    ['a NUL in the path', () => [get('/index.html%00.js'), ''], 404, 'bad-path'],
    ['a bad percent-escape in a file path', () => [get('/%E0%A4%A'), ''], 404, 'bad-path'],
    ['a bad percent-escape in a device id (was a 500)', () => [post('/api/v1/devices/%E0%A4%A/commands', 2), '{}'], 400, 'bad-request'],
    ['a bad percent-escape in a query value', () => [get('/api/v1/devices?limit=%ZZ'), ''], 400, 'devices-query'],
    ['a missing required query parameter', () => [get('/api/ring/owner'), ''], 400, 'bad-request'],
    ['a malformed resume query', () => [get('/api/keys/messages?key=a%2F%2B&since=x'), ''], 400, 'keys-query'],
    ['a 3 MiB publish body', () => [post('/api/v1/publish', HUGE.length), HUGE], 400, 'publish-body'],
    ['a 100 KiB command body (limit 64 KiB)', () => [post('/api/v1/devices/d1/commands', 100 * 1024), Buffer.alloc(100 * 1024, 0x20)], 400, 'bad-request'],
    ['a command body that is not JSON', () => [post('/api/v1/devices/d1/commands', 5), '{nope'], 400, 'bad-request'],
    ['a Content-Length that is not a number', () => [['POST /api/v1/publish HTTP/1.1', 'Host: 127.0.0.1', 'Content-Length: abc'], ''], 400, 'malformed-http'],
    ['a control character in a header value', () => [get('/api/v1/ring', ['X-Bad: a\u0001b']), ''], 400, 'malformed-http'],
    ['a request line of binary garbage', () => [['\u0000\u0001\u0002 \u00ff\u00fe'], ''], 400, 'malformed-http'],
    ['32 KiB of headers (Node limit 16 KiB)', () => [get('/api/v1/ring', [`X-Big: ${'b'.repeat(32 * 1024)}`]), ''], 431, 'headers-too-large'],
    ['a 32 KiB URL', () => [get(`/api/v1/topics?prefix=${'p'.repeat(32 * 1024)}`), ''], 431, 'headers-too-large'],
  ])('%s → %i, counted as %s', async (_name, request, status, reason) => {
    const before = await badRequests(reason)
    const total = await badRequests()
    const [head, body] = request()
    const answer = await rawHttp(hub.ports.admin, head, body)
    expect(answer.status, answer.headers).toBe(status)
    expect(answer.headers).toMatch(/content-type: application\/json/i)
    expect((JSON.parse(answer.body) as { error?: unknown }).error).toEqual(expect.any(String))
    if (status === 405) expect(answer.headers).toMatch(/\r\nallow: (GET|POST)/i)
    expect(await badRequests(reason), `ringhub_admin_bad_requests_total{reason="${reason}"}`).toBe(before + 1)
    expect(await badRequests(), 'counted once').toBe(total + 1)
  })

  it('a missing UI file is a 404 but not bad input', async () => {
    const total = await badRequests()
    const answer = await rawHttp(hub.ports.admin, get('/no-such-file.js'))
    expect(answer.status).toBe(404)
    expect(await badRequests()).toBe(total)
  })

  it('afterwards the hub serves: health, ring, and a publish through the API', async () => {
    expect((await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(3_000) })).status).toBe(200)
    expect((await fetch(`http://${admin}/api/v1/ring`, { signal: AbortSignal.timeout(3_000) })).status).toBe(200)
    const res = await fetch(`http://${admin}/api/v1/publish`, { method: 'POST', body: JSON.stringify({ topic: 'after/bad', payload: 'ok' }), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(3_000) })
    expect(res.status).toBe(200)
  })
})

describe('a slow client (slowloris)', () => {
  it('a request head that never ends gets 408 after headersMs, counted; others are served meanwhile', async () => {
    const metrics = new HubMetrics()
    const server = new AdminServer({ log: silentLogger(), metrics, info: () => { throw new Error('unused') }, healthCheck: () => {}, httpTimeouts: { headersMs: 300, requestMs: 1_000, checkIntervalMs: 50 } })
    const port = await server.listen('127.0.0.1', 0)
    try {
      const started = performance.now()
      // The head's blank line never comes.
      const slow = rawHttp(port, ['GET /healthz HTTP/1.1', 'Host: 127.0.0.1', 'X-Slow: 1'], '', 5_000, false)
      // Meanwhile a normal request is answered at once.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3_000) })).status).toBe(200)
      const answer = await slow
      expect(answer.status).toBe(408)
      expect(performance.now() - started).toBeGreaterThanOrEqual(250)
      expect(JSON.parse(answer.body)).toEqual({ error: 'Request Timeout' })
      expect(await counter(`127.0.0.1:${port}`, 'ringhub_admin_bad_requests_total', 'reason="timeout"')).toBe(1)
    } finally {
      await server.close()
    }
  })
})
