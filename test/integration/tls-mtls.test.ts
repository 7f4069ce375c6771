import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { request } from 'node:https'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { UserStore } from '../../hub/src/store/user-store.js'
import { counter, gauge } from '../helpers/admin.js'
import { RawChannel } from '../helpers/channels.js'
import { REPO_ROOT, startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, grantedQos } from '../helpers/mqtt.js'
import { selfSignedCert } from '../helpers/tls.js'
import { waitFor } from '../helpers/wait.js'

// Issue 7's security part on real sockets: `ringhub certs` makes a development CA and
// certificates; a hub serves MQTT over TLS and its admin port over TLS (HTTPS, wss at /mqtt and
// /channels), accepts TLS 1.2 or later only, and maps a verified client certificate's CN to the
// user (mTLS), with that user's ACL.

const dir = tempDir()
const certs = join(dir.path, 'certs')
const file = (name: string): Buffer => readFileSync(join(certs, name))
let ca: Buffer
let hub: Hub
let strictHub: Hub
const admin = (): string => `127.0.0.1:${hub.ports.admin}`
const clients: MqttClient[] = []
const channels: RawChannel[] = []

function ringhub(...args: string[]): string {
  return execFileSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), ...args], { encoding: 'utf8' })
}

const clientTls = (name: string): { cert: Buffer, key: Buffer } => ({ cert: file(`client-${name}.pem`), key: file(`client-${name}.key`) })
const mqtts = (h: Hub, opts: Parameters<typeof connect>[1] = {}): Promise<MqttClient> =>
  connect(`mqtts://127.0.0.1:${h.ports.mqtts}`, { ca, servername: 'localhost', reconnectPeriod: 0, ...opts }).then((c) => { clients.push(c); return c })

/** Resolves with the negotiated protocol, or rejects with the handshake error. */
function handshake(port: number, opts: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => {
      const protocol = socket.getProtocol() ?? '?'
      // An mTLS refusal (no certificate) arrives after the client's handshake finishes (TLS 1.3).
      socket.once('close', () => resolve(protocol))
      socket.once('error', reject)
      socket.end()
    })
    socket.once('error', reject)
  })
}

/**
 * Resolves with the error that ends a handshake the hub refuses. With TLS 1.3 the client's side
 * of the handshake completes before the hub has read its certificate, so the refusal is the alert
 * that follows; a connection still open after 5 s was accepted.
 */
function refusal(port: number, opts: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts })
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('the hub accepted the connection')) }, 5_000)
    socket.once('error', (err) => { clearTimeout(timer); resolve(err.message) })
    socket.once('close', () => { clearTimeout(timer); resolve('closed by the hub') })
  })
}

function https(port: number, path: string, extra: { cert?: Buffer, key?: Buffer } = {}): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', ...extra }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

beforeAll(async () => {
  const out = ringhub('certs', '--out', certs, '--hub', 'tls-hub', '--client', 'd1,ops,d1-other')
  expect(out).toContain('CA made')
  ca = file('ca.pem')
  const base = { mqtts: 0, adminTls: 0, tlsCert: join(certs, 'hub-tls-hub.pem'), tlsKey: join(certs, 'hub-tls-hub.key'), tlsCa: join(certs, 'ca.pem') }
  hub = await startHub(join(dir.path, 'optional'), { id: 'tls-hub', ...base, tlsClientCerts: 'optional' })
  const users = new UserStore(hub.db)
  await users.add('ops', 'ops-password', 'operator')
  await users.add('d2', 'd2-password', 'device')
  strictHub = await startHub(join(dir.path, 'required'), { id: 'tls-strict', ...base, tlsClientCerts: 'required' })
})

afterAll(async () => {
  for (const c of channels) c.ws.terminate()
  await close(...clients)
  await Promise.all([hub?.stop(), strictHub?.stop()])
  dir.remove()
})

describe('ringhub certs', () => {
  it('makes a CA and certificates it signed, keys readable by their owner only, and reuses the CA on a second run', () => {
    const caCert = new X509Certificate(ca)
    const hubCert = new X509Certificate(file('hub-tls-hub.pem'))
    const device = new X509Certificate(file('client-d1.pem'))
    expect(caCert.ca).toBe(true)
    expect(hubCert.verify(caCert.publicKey)).toBe(true)
    expect(device.verify(caCert.publicKey)).toBe(true)
    expect(hubCert.subjectAltName).toContain('IP Address:127.0.0.1')
    expect(device.subject).toBe('CN=d1')
    for (const key of ['ca.key', 'hub-tls-hub.key', 'client-d1.key']) expect(statSync(join(certs, key)).mode & 0o077).toBe(0)
    const again = ringhub('certs', '--out', certs, '--client', 'd3')
    expect(again).toContain('CA reused')
    expect(readFileSync(join(certs, 'ca.pem')).equals(ca)).toBe(true)
    expect(new X509Certificate(file('client-d3.pem')).verify(caCert.publicKey)).toBe(true)
  })

  it('refuses a name that cannot be a user or hub id', () => {
    expect(() => execFileSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), 'certs', '--out', certs, '--client', 'a/b'], { stdio: 'pipe' }))
      .toThrow(/must be 1-64 characters/)
  })
})

describe('TLS listeners', () => {
  it('accept TLS 1.2 and 1.3 and refuse TLS 1.1 on mqtts and on the admin TLS port, counting the refusals', async () => {
    for (const port of [hub.ports.mqtts as number, hub.ports.adminTls as number]) {
      await expect(handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).resolves.toBe('TLSv1.2')
      await expect(handshake(port, { minVersion: 'TLSv1.3' })).resolves.toBe('TLSv1.3')
    }
    const before = await counter(admin(), 'ringhub_protocol_errors_total', 'reason="tls-handshake"')
    for (const port of [hub.ports.mqtts as number, hub.ports.adminTls as number]) {
      // SECLEVEL=0: this client itself would offer TLS 1.1; the hub must be the one refusing.
      expect(await refusal(port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).toMatch(/protocol version|unsupported protocol/)
    }
    await waitFor(async () => (await counter(admin(), 'ringhub_protocol_errors_total', 'reason="tls-handshake"')) >= before + 2, 'two counted handshake refusals')
  })

  it('serve the admin API over HTTPS with the same routes and token rules', async () => {
    const health = await https(hub.ports.adminTls as number, '/healthz')
    expect(health).toEqual({ status: 200, body: JSON.stringify({ status: 'ok' }) })
    const info = JSON.parse((await https(hub.ports.adminTls as number, '/api/v1/hub')).body) as { ports: { adminTls: number, mqtts: number } }
    expect(info.ports).toMatchObject({ adminTls: hub.ports.adminTls, mqtts: hub.ports.mqtts })
  })

  it('carry MQTT over secure WebSocket at /mqtt, counted as the wss listener', async () => {
    const ws = await connect(`wss://127.0.0.1:${hub.ports.adminTls}/mqtt`, { ca, servername: 'localhost', reconnectPeriod: 0, ...clientTls('d1'), clientId: 'd1:ws' })
    clients.push(ws)
    const got = collect(ws)
    await ws.subscribeAsync('devices/d1/#', { qos: 1 })
    await ws.publishAsync('devices/d1/ws', 'over wss', { qos: 1 })
    await waitFor(() => got.some((m) => m.payload.toString() === 'over wss'), 'own message over wss')
    expect(await counter(admin(), 'ringhub_connections_total', 'listener="wss"')).toBeGreaterThanOrEqual(1)
  })
})

describe('client certificates (mTLS, optional)', () => {
  it('log a device in by its certificate CN, with the device ACL of that name', async () => {
    const before = await gauge(admin(), 'ringhub_auth_certificate_logins_total')
    const d1 = await mqtts(hub, { ...clientTls('d1'), clientId: 'd1' })
    const got = collect(d1)
    expect(await grantedQos(d1, 'devices/d1/#', 1)).toBe(1)
    expect(await grantedQos(d1, 'devices/d2/#', 1)).toBe(0x80)
    await d1.publishAsync('devices/d1/temp', '21', { qos: 1 })
    await waitFor(() => got.some((m) => m.topic === 'devices/d1/temp'), 'the device\'s own message')
    expect(await gauge(admin(), 'ringhub_auth_certificate_logins_total')).toBe(before + 1)
    // The client id rule of the name applies: d1's certificate cannot take d2's session.
    await expect(mqtts(hub, { ...clientTls('d1'), clientId: 'd2' })).rejects.toThrow(/[Ii]dentifier rejected/)
  })

  it('give a stored operator its role, and refuse a user name other than the CN', async () => {
    const ops = await mqtts(hub, { ...clientTls('ops'), clientId: 'ops-tool' })
    expect(await grantedQos(ops, 'devices/#', 1)).toBe(1)
    await expect(mqtts(hub, { ...clientTls('d1'), username: 'ops', password: 'ops-password', clientId: 'x' })).rejects.toThrow(/[Bb]ad user ?name or password/)
    await expect(mqtts(hub, { ...clientTls('d1'), username: 'd1', clientId: 'd1:same' })).resolves.toBeDefined()
  })

  it('let clients without a certificate log in with a password, and treat a certificate from another CA as none', async () => {
    const d2 = await mqtts(hub, { username: 'd2', password: 'd2-password', clientId: 'd2' })
    expect(await grantedQos(d2, 'devices/d2/#', 1)).toBe(1)
    await expect(mqtts(hub, { clientId: 'nobody' })).rejects.toThrow(/[Nn]ot authorized/)
    const stranger = selfSignedCert(join(dir.path))
    const strangerKey = readFileSync(stranger.keyPath)
    await expect(mqtts(hub, { cert: stranger.cert, key: strangerKey, clientId: 'localhost' })).rejects.toThrow(/[Nn]ot authorized/)
  })

  it('name the channel user over wss /channels, with its ACL', async () => {
    const ch = await RawChannel.open(hub.ports.adminTls as number, { tls: { ca, ...clientTls('d1') } })
    channels.push(ch)
    expect(await ch.request({ op: 'join', topic: 'devices/d1/#' })).toMatchObject({ op: 'ok' })
    expect(await ch.request({ op: 'join', topic: 'devices/d2/#' })).toMatchObject({ op: 'error', code: 'not-authorized' })
    // Without a certificate, the channel must authenticate itself.
    const anon = await RawChannel.open(hub.ports.adminTls as number, { tls: { ca } })
    channels.push(anon)
    expect(await anon.request({ op: 'join', topic: 'devices/d1/#' })).toMatchObject({ op: 'error', code: 'unauthenticated' })
  })
})

describe('client certificates required', () => {
  it('refuse a handshake without a certificate or with one from another CA, and admit the CA\'s', async () => {
    const port = strictHub.ports.mqtts as number
    expect(await refusal(port, {})).toMatch(/certificate required|closed by the hub/)
    const stranger = selfSignedCert(join(dir.path))
    expect(await refusal(port, { cert: stranger.cert, key: readFileSync(stranger.keyPath) })).toMatch(/unknown ca|certificate|closed by the hub/)
    expect(await refusal(strictHub.ports.adminTls as number, {})).toMatch(/certificate required|closed by the hub/)
    const d1 = await mqtts(strictHub, { ...clientTls('d1'), clientId: 'd1' })
    expect(await grantedQos(d1, 'devices/d1/#', 1)).toBe(1)
    const res = await https(strictHub.ports.adminTls as number, '/healthz', clientTls('d1'))
    expect(res.status).toBe(200)
  })
})
