import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { RawChannel } from '../helpers/channels.js'
import { waitFor } from '../helpers/wait.js'

// Issue 7: "secrets are never logged". A hub process at log level trace is given every kind of
// secret it holds (the admin token, a gossip key, a user's password, its TLS private key) and
// then meets every path that logs around them: good and bad MQTT logins, a wrong admin token on
// the API, the operator WebSocket and the channels, a bad channel login, a SIGHUP reload of a
// YAML file holding a new token and key, and a graceful stop. Nothing it printed may contain a
// secret, in clear or in the base64 forms that could leak them.

const dir = tempDir()
const data = join(dir.path, 'data')
const secrets = {
  adminToken: `tok-${randomBytes(12).toString('hex')}`,
  newAdminToken: `tok-${randomBytes(12).toString('hex')}`,
  gossipKey: randomBytes(32).toString('base64'),
  newGossipKey: randomBytes(32).toString('base64'),
  password: `pw-${randomBytes(12).toString('hex')}`,
  wrongPassword: `wrong-${randomBytes(12).toString('hex')}`,
  wrongToken: `bad-${randomBytes(12).toString('hex')}`,
}
let hub: SpawnedHub | undefined

afterAll(async () => {
  if (hub) await stopHub(hub, 'SIGKILL')
  dir.remove()
})

const ringhub = (...args: string[]): string => execFileSync(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), ...args], { encoding: 'utf8', input: `${secrets.password}\n` })

describe('a hub process at log level trace', () => {
  it('never prints a secret it was given or sent, through logins, refusals, a reload and a stop', async () => {
    const certs = join(dir.path, 'certs')
    ringhub('certs', '--out', certs, '--hub', 'sec')
    ringhub('users', 'add', 'd1', '--role', 'device', '--password', '-', '--data', data)
    const yaml = join(dir.path, 'hub.yaml')
    writeFileSync(yaml, `adminToken: ${secrets.adminToken}\ngossipKeys: [${secrets.gossipKey}]\n`)
    hub = await spawnHub(['--id', 'sec', '--data', data, '--config', yaml, '--log-level', 'trace', '--mqtts', '0', '--admin-tls', '0',
      '--tls-cert', join(certs, 'hub-sec.pem'), '--tls-key', join(certs, 'hub-sec.key')])
    const admin = `http://127.0.0.1:${hub.ports.admin}`
    const mqtt = `mqtt://127.0.0.1:${hub.ports.mqtt}`

    const good = await connect(mqtt, { clientId: 'd1', username: 'd1', password: secrets.password })
    await good.publishAsync('devices/d1/t', 'x', { qos: 1 })
    await close(good)
    await expect(connect(mqtt, { clientId: 'd1', username: 'd1', password: secrets.wrongPassword, reconnectPeriod: 0 })).rejects.toThrow(/[Bb]ad user/)
    expect((await fetch(`${admin}/api/v1/ring`, { headers: { authorization: `Bearer ${secrets.wrongToken}` } })).status).toBe(401)
    expect((await fetch(`${admin}/api/v1/ring?token=${secrets.wrongToken}`)).status).toBe(401)
    expect((await fetch(`${admin}/api/v1/ring`, { headers: { authorization: `Bearer ${secrets.adminToken}` } })).status).toBe(200)
    const channel = await RawChannel.open(hub.ports.admin)
    expect(await channel.request({ op: 'auth', username: 'd1', password: secrets.wrongPassword })).toMatchObject({ op: 'error', code: 'bad-credentials' })
    channel.ws.terminate()
    const ok = await RawChannel.open(hub.ports.admin, { headers: { authorization: `Basic ${Buffer.from(`d1:${secrets.password}`).toString('base64')}` } })
    expect(await ok.request({ op: 'join', topic: 'devices/d1/#' })).toMatchObject({ op: 'ok' })
    ok.ws.terminate()

    // A reload with a new token and a new key (installed next to the old one).
    writeFileSync(yaml, `adminToken: ${secrets.newAdminToken}\ngossipKeys: [${secrets.gossipKey}, ${secrets.newGossipKey}]\n`)
    const linesBefore = hub.output.length
    hub.child.kill('SIGHUP')
    await waitFor(() => hub?.output.slice(linesBefore).some((l) => /reload/i.test(l)), 'the reload logged', 5_000)
    await waitFor(async () => (await fetch(`${admin}/api/v1/ring`, { headers: { authorization: `Bearer ${secrets.newAdminToken}` } })).status === 200, 'the new token in use', 5_000, 50)
    expect(await stopHub(hub, 'SIGTERM')).toMatchObject({ code: 0 })

    const printed = hub.output.join('\n')
    expect(printed).toContain('hub stopped')
    // The paths above really logged (so their lines were checked): the refused login, the reload.
    expect(printed).toMatch(/"reason":"bad-credentials".*"msg":"connect refused"|"msg":"connect refused".*"reason":"bad-credentials"/)
    const keyPem = readFileSync(join(certs, 'hub-sec.key'), 'utf8')
    const keyBody = keyPem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('')
    const forms = (s: string): string[] => [s, Buffer.from(s).toString('base64'), encodeURIComponent(s)]
    for (const [name, value] of Object.entries(secrets)) {
      for (const form of forms(value)) expect(printed.includes(form), `${name} printed (${form})`).toBe(false)
    }
    expect(printed.includes(keyBody.slice(0, 40)), 'TLS private key printed').toBe(false)
    expect(printed.includes(Buffer.from(`d1:${secrets.password}`).toString('base64')), 'Basic credentials printed').toBe(false)
  }, 60_000)
})
