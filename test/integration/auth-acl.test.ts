import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import type { Hub } from '../../hub/src/hub.js'
import { MAX_PENDING_CREDENTIAL_CHECKS } from '../../hub/src/mqtt/auth.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect, grantedQos, rawConnack } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

const dir = tempDir()
let hub: Hub
let url: string
const clients: MqttClient[] = []

async function as(username?: string, password?: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  // A device must use its own client id, or one of its own (`d42:<suffix>`).
  const clientId = username ? `${username}:${clients.length}` : undefined
  const c = await connect(url, { username, password, clientId, ...extra })
  clients.push(c)
  return c
}

/** CONNACK return code for a CONNECT with these options (0 = accepted). */
async function connackCode(opts: mqtt.IClientOptions): Promise<number> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, clientId: opts.username ? `${opts.username}:${clients.length}` : undefined, ...opts })
  clients.push(c)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no CONNACK')), 5000)
    c.once('connect', (p) => { clearTimeout(timer); resolve(p.returnCode ?? 0) })
    c.once('error', (err: Error & { code?: number }) => { clearTimeout(timer); resolve(err.code ?? -1) })
  })
}

async function count(metric: 'authFailures' | 'aclDenials', label: Record<string, string>): Promise<number> {
  const { values } = await hub.metrics[metric].get()
  return values.filter((v) => Object.entries(label).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((s, v) => s + v.value, 0)
}

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: false })
  url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
  await hub.users.add('d42', 'pw-d42', 'device')
  await hub.users.add('d43', 'pw-d43', 'device')
  await hub.users.add('d4', 'pw-d4', 'device')
  await hub.users.add('ops', 'pw-ops', 'operator')
})

afterAll(async () => {
  await close(...clients)
  await hub.stop()
  dir.remove()
})

describe('authentication', () => {
  it.each([
    ['right device password', { username: 'd42', password: 'pw-d42' }, 0],
    ['right operator password', { username: 'ops', password: 'pw-ops' }, 0],
    ['wrong password', { username: 'd42', password: 'nope' }, 4],
    ['unknown user', { username: 'ghost', password: 'x' }, 4],
    ['no credentials while anonymous access is off', {}, 5],
  ])('%s', async (_name, opts, code) => {
    expect(await connackCode(opts)).toBe(code)
  })

  // mqtt.js refuses to send these itself, so they go out as raw packets.
  it.each([
    ['empty client id with clean session 0 gets 0x02 [MQTT-3.1.3-8]', { clientId: '', clean: false }, 2],
    ['empty client id with clean session 1 is accepted', { clientId: '', clean: true }, 0],
    ['a 200-byte client id is accepted (3.1.1 allows up to 65535)', { clientId: 'd42:' + 'c'.repeat(196), clean: true }, 0],
  ])('%s', async (_name, connect, code) => {
    expect(await rawConnack(hub.ports.mqtt, { ...connect, username: 'd42', password: Buffer.from('pw-d42') })).toBe(code)
  })

  it.each([
    ['its own name as client id', 'd42', 'd42', 0],
    ['one of its own ids', 'd42', 'd42:agent', 0],
    ["another device's id (session takeover)", 'd43', 'd42', 2],
    ["another device's id with a suffix", 'd43', 'd42:agent', 2],
    ['an id its own name is only a prefix of', 'd4', 'd42', 2],
    ['an operator, any id', 'ops', 'd42', 0],
  ])('a user connecting with %s → CONNACK %i', async (_name, user, clientId, code) => {
    expect(await connackCode({ username: user, password: `pw-${user}`, clientId })).toBe(code)
  })

  it.each([
    ['a device will inside its subtree', 'd42', 'devices/d42/status', 0],
    ['a device will on another device', 'd42', 'devices/d43/cmd/unlock', 5],
    ['an operator will in $SYS', 'ops', '$SYS/broker/fake', 5],
    ['an operator will anywhere else', 'ops', 'site/alarm', 0],
  ])('%s → CONNACK %i', async (_name, user, willTopic, code) => {
    expect(await connackCode({ username: user, password: `pw-${user}`, will: { topic: willTopic, payload: Buffer.from('x'), qos: 1, retain: false } })).toBe(code)
  })

  it('answers a login flood beyond the concurrent password checks with CONNACK 0x03, every socket answered', async () => {
    const codes = await Promise.all(Array.from({ length: MAX_PENDING_CREDENTIAL_CHECKS + 40 }, (_, i) =>
      rawConnack(hub.ports.mqtt, { clientId: `flood-${i}`, username: `nobody-${i}`, password: Buffer.from('x') }, 20_000)))
    expect(codes.filter((c) => c === 3).length).toBeGreaterThan(0)
    expect(codes.every((c) => c === 3 || c === 4)).toBe(true)
    expect(await count('authFailures', { reason: 'busy' })).toBe(codes.filter((c) => c === 3).length)
    // Once the flood is answered, logins work again.
    expect(await connackCode({ username: 'd42', password: 'pw-d42' })).toBe(0)
  })

  it('counts refused CONNECTs by reason', async () => {
    expect(await count('authFailures', { reason: 'bad-credentials' })).toBeGreaterThanOrEqual(2)
    expect(await count('authFailures', { reason: 'anonymous' })).toBeGreaterThanOrEqual(1)
    expect(await count('authFailures', { reason: 'empty-client-id-persistent' })).toBeGreaterThanOrEqual(1)
    expect(await count('authFailures', { reason: 'client-id-not-owned' })).toBe(3)
    expect(await count('aclDenials', { action: 'will' })).toBe(2)
  })

  it('sees a user removed while the hub runs', async () => {
    await hub.users.add('temp', 'pw', 'device')
    expect(await connackCode({ username: 'temp', password: 'pw' })).toBe(0)
    expect(await hub.users.remove('temp')).toBe(true)
    expect(await connackCode({ username: 'temp', password: 'pw' })).toBe(4)
  })
})

describe('default ACL', () => {
  it.each([
    ['d42', 'devices/d42/#', 1],
    ['d42', 'devices/d42/cmd', 1],
    ['d42', 'devices/d43/#', 128],
    ['d42', 'devices/+/telemetry', 128],
    ['d42', '#', 128],
    ['d42', '$SYS/#', 128],
    ['ops', 'devices/+/telemetry', 1],
    ['ops', '#', 1],
  ])('%s subscribing to %s is granted %i', async (user, filter, granted) => {
    const c = await as(user, `pw-${user}`)
    expect(await grantedQos(c, filter, 1)).toBe(granted)
  })

  it('lets a device publish under its own subtree and delivers it to an operator', async () => {
    const ops = await as('ops', 'pw-ops')
    const got = collect(ops)
    await ops.subscribeAsync('devices/#', { qos: 1 })
    const d42 = await as('d42', 'pw-d42')
    await d42.publishAsync('devices/d42/telemetry/temp', '21.5', { qos: 1 })
    await waitFor(() => got.length === 1, 'operator delivery')
    expect(got[0]).toMatchObject({ topic: 'devices/d42/telemetry/temp', payload: '21.5' })
  })

  it('closes a device that publishes outside its subtree, and delivers nothing', async () => {
    const ops = await as('ops', 'pw-ops')
    const got = collect(ops)
    await ops.subscribeAsync('devices/d43/#', { qos: 1 })
    const before = await count('aclDenials', { action: 'publish' })
    const d42 = await as('d42', 'pw-d42')
    const closed = new Promise<void>((resolve) => d42.once('close', () => resolve()))
    d42.publish('devices/d43/cmd', 'spoofed', { qos: 1 })
    await closed
    expect(await count('aclDenials', { action: 'publish' })).toBe(before + 1)
    const d43 = await as('d43', 'pw-d43')
    await d43.publishAsync('devices/d43/marker', 'm', { qos: 1 })
    await waitFor(() => got.length >= 1, 'marker')
    expect(got.map((m) => m.payload)).toEqual(['m'])
  })

  it('counts denied subscriptions', async () => {
    expect(await count('aclDenials', { action: 'subscribe' })).toBeGreaterThanOrEqual(4)
  })

  it('lets a device resume its own key over MQTT, and no other device\'s key or answers', async () => {
    const d42 = await as('d42', 'pw-d42')
    await d42.publishAsync('devices/d42/log', 'mine', { qos: 1 })
    const res = `$ringhub/resume/${d42.options.clientId as string}/res`
    expect(await grantedQos(d42, res, 1)).toBe(1)
    expect(await grantedQos(d42, '$ringhub/resume/ops:0/res', 1)).toBe(128)
    expect(await grantedQos(d42, '$ringhub/resume/+/res', 1)).toBe(128)
    const answers: Array<{ error?: string, messages?: Array<{ text: string }> }> = []
    d42.on('message', (topic, payload) => { if (topic === res) answers.push(JSON.parse(payload.toString()) as typeof answers[number]) })
    const ask = async (request: object): Promise<typeof answers[number]> => {
      const before = answers.length
      await d42.publishAsync(res.replace(/res$/, 'req'), JSON.stringify(request), { qos: 1 })
      await waitFor(() => answers.length > before, 'a resume answer')
      return answers[before] as typeof answers[number]
    }
    expect((await ask({ key: 'devices/d42' })).messages?.map((m) => m.text)).toContain('mine')
    expect(await ask({ key: 'devices/d43' })).toEqual({ error: 'not authorized to read devices/d43' })
  })
})
