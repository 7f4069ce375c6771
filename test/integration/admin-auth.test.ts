import { afterEach, describe, expect, it } from 'vitest'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { AdminAuth } from '../../hub/src/admin/admin-auth.js'
import type { Hub } from '../../hub/src/hub.js'
import { counter } from '../helpers/admin.js'
import { AdminWsClient } from '../helpers/admin-ws.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { WebSocket } from 'ws'

const TOKEN = 's3cret-token-of-the-operator'
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

async function hub(adminToken?: string): Promise<Hub> {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const h = await startHub(dir.path, { allowAnonymous: true, adminToken })
  cleanups.push(() => h.stop())
  return h
}

async function status(h: Hub, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${h.ports.admin}${path}`, { method, headers, body: method === 'POST' ? '{}' : undefined, signal: AbortSignal.timeout(5_000) })
  await res.arrayBuffer()
  return res.status
}

/** fetch cannot set Host (a forbidden header): node:http can, as a DNS-rebinding page's browser would. */
function statusWithHost(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/ring', headers: { host }, timeout: 5_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

function fakeRequest(remoteAddress: string, headers: Record<string, string> = {}, url = '/api/v1/ring'): IncomingMessage {
  return { socket: { remoteAddress }, headers, url } as unknown as IncomingMessage
}

describe('admin token', () => {
  it('with --admin-token, /api/* needs the bearer token (401 without or wrong), other paths do not', async () => {
    const h = await hub(TOKEN)
    const admin = `127.0.0.1:${h.ports.admin}`
    for (const path of ['/api/ring', '/api/v1/ring', '/api/v1/stats', '/api/hub', '/api/v1/nothing']) {
      expect(await status(h, path), path).toBe(401)
      expect(await status(h, path, { authorization: 'Bearer wrong' }), path).toBe(401)
      expect(await status(h, path, { authorization: `Basic ${TOKEN}` }), path).toBe(401)
    }
    expect(await status(h, '/api/v1/publish', {}, 'POST')).toBe(401)
    expect(await status(h, '/api/devices/d1/commands', {}, 'POST')).toBe(401)
    expect(await status(h, '/api/v1/ring', { authorization: `Bearer ${TOKEN}` })).toBe(200)
    expect(await status(h, '/api/v1/stats', { authorization: `bearer ${TOKEN}` })).toBe(200)
    // Older routes under /api/v1 see their own path (the device id here): a bad body is a 400, not a 404.
    expect(await status(h, '/api/v1/devices/d1/commands', { authorization: `Bearer ${TOKEN}` }, 'POST')).toBe(400)
    // A token in the query string is for the WebSocket only (it would end up in access logs).
    expect(await status(h, `/api/v1/ring?token=${TOKEN}`)).toBe(401)
    // Other origins may use the API with the token (CORS), the preflight needs none.
    const preflight = await fetch(`http://${admin}/api/v1/stats`, { method: 'OPTIONS', headers: { origin: 'file://', 'access-control-request-headers': 'authorization' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization')
    const cross = await fetch(`http://${admin}/api/v1/ring`, { headers: { origin: 'http://dash.example', authorization: `Bearer ${TOKEN}` } })
    expect(cross.status).toBe(200)
    expect(cross.headers.get('access-control-allow-origin')).toBe('http://dash.example')
    await cross.arrayBuffer()
    expect(await status(h, '/healthz')).toBe(200)
    expect(await status(h, '/metrics')).toBe(200)
    expect(await counter(admin, 'ringhub_admin_refused_total', 'status="401"')).toBe(18)
    // MQTT over WebSocket at /mqtt is authenticated by CONNECT, not by the admin token.
    const mqttWs = await connect(`ws://${admin}/mqtt`)
    await close(mqttWs)
  })

  it('a reload (SIGHUP) rotates the token without a restart', async () => {
    const h = await hub(TOKEN)
    expect(h.reload({ ...h.config, adminToken: 'next-token' })).toMatchObject({ applied: ['adminToken'], needRestart: [] })
    expect(await status(h, '/api/v1/ring', { authorization: `Bearer ${TOKEN}` })).toBe(401)
    expect(await status(h, '/api/v1/ring', { authorization: 'Bearer next-token' })).toBe(200)
    h.reload({ ...h.config, adminToken: undefined })
    expect(await status(h, '/api/v1/ring')).toBe(200) // loopback, no token
  })

  it('the admin WebSocket needs the token too: header or ?token=', async () => {
    const h = await hub(TOKEN)
    const admin = `127.0.0.1:${h.ports.admin}`
    await expect(AdminWsClient.open(admin)).rejects.toThrow('HTTP 401')
    await expect(AdminWsClient.open(admin, { query: '?token=nope' })).rejects.toThrow('HTTP 401')
    for (const opts of [{ query: `?token=${TOKEN}` }, { headers: { authorization: `Bearer ${TOKEN}` } }]) {
      const ws = await AdminWsClient.open(admin, opts)
      cleanups.push(() => ws.close())
      expect(await ws.call({ ref: 'r', op: 'subscribe', channel: 'ring' })).toEqual({ ref: 'r', op: 'ok' })
      await ws.next((f) => f.op === 'ring', 'ring frame')
    }
    // Unknown upgrade paths are refused whatever the token.
    const stray = new WebSocket(`ws://${admin}/elsewhere?token=${TOKEN}`)
    const code = await new Promise<number>((resolve) => {
      stray.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); stray.terminate() })
      stray.once('error', () => resolve(-1))
    })
    expect(code).toBe(404)
  })

  it('without a token, loopback is served and other addresses get 403 naming the option', async () => {
    const h = await hub()
    expect(await status(h, '/api/v1/ring')).toBe(200)
    expect(await status(h, '/api/ring')).toBe(200)
    const ws = await AdminWsClient.open(`127.0.0.1:${h.ports.admin}`)
    cleanups.push(() => ws.close())
    expect(await ws.call({ ref: 'p', op: 'ping' })).toEqual({ ref: 'p', op: 'ok' })
    // No second interface on the test machine: the same check, on requests from elsewhere.
    const open = new AdminAuth(undefined)
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) expect(open.check(fakeRequest(address))).toBeUndefined()
    for (const address of ['10.0.0.7', '::ffff:192.168.1.2', 'fe80::1', undefined as unknown as string]) {
      const refusal = open.check(fakeRequest(address))
      expect(refusal?.status).toBe(403)
      expect(refusal?.reason).toContain('--admin-token')
    }
    // Without a token, a web page on this machine must not drive the hub: other origins and
    // rebound host names are refused, also for the WebSocket.
    const port = h.ports.admin
    expect(await status(h, '/api/v1/ring', { origin: `http://127.0.0.1:${port}` })).toBe(200)
    const evil = await fetch(`http://127.0.0.1:${port}/api/v1/ring`, { headers: { origin: 'http://evil.example' } })
    expect(evil.status).toBe(403)
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
    await evil.arrayBuffer()
    expect(await status(h, '/api/v1/ring', { origin: 'http://evil.example' }, 'OPTIONS')).toBe(403)
    expect(await status(h, '/api/v1/publish', { origin: 'null' }, 'POST')).toBe(403)
    expect(await statusWithHost(port, `evil.example:${port}`)).toBe(403)
    expect(await statusWithHost(port, `localhost:${port}`)).toBe(200)
    await expect(AdminWsClient.open(`127.0.0.1:${port}`, { headers: { origin: 'http://evil.example' } })).rejects.toThrow('HTTP 403')
    // With a token, the address does not matter: the token does.
    const closed = new AdminAuth(TOKEN)
    expect(closed.check(fakeRequest('10.0.0.7', { authorization: `Bearer ${TOKEN}` }))).toBeUndefined()
    expect(closed.check(fakeRequest('127.0.0.1'))?.status).toBe(401)
    expect(closed.check(fakeRequest('10.0.0.7', {}, `/api/v1/ws?token=${TOKEN}`), true)).toBeUndefined()
    expect(closed.check(fakeRequest('10.0.0.7', {}, `/api/v1/ws?token=${TOKEN}`), false)?.status).toBe(401)
    expect(closed.check(fakeRequest('10.0.0.7', { authorization: `Bearer ${TOKEN}x` }))?.status).toBe(401)
    expect(closed.check(fakeRequest('10.0.0.7', { authorization: `Bearer ${TOKEN}`, origin: 'file://' }))).toBeUndefined()
  })
})
