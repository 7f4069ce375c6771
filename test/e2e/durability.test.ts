import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import mqtt, { type MqttClient } from 'mqtt'
import { spawnHub, startHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'
import { DB_FILE } from '../../hub/src/hub.js'

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.()
})

/** Rows the hub has committed to its SQLite file, read by a separate read-only connection. */
function committedRows(data: string, sql: string, ...params: unknown[]): number {
  const db = new Database(join(data, DB_FILE), { readonly: true, fileMustExist: true })
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n
  } finally {
    db.close()
  }
}

/**
 * Leaves a persistent session with a QoS 1 subscription offline, then publishes `count` QoS 1
 * messages for it and one retained message.
 */
async function prepareOfflineSession(url: string, count: number): Promise<void> {
  const sub = await connect(url, { clientId: 'keeper', clean: false })
  await sub.subscribeAsync('dur/#', { qos: 1 })
  await sub.endAsync()
  const pub = await connect(url)
  for (let i = 0; i < count; i++) await pub.publishAsync(`dur/m`, `msg-${i}`, { qos: 1 })
  await pub.publishAsync('dur/state', 'retained-v1', { qos: 1, retain: true })
  await pub.endAsync()
}

/** Reconnects the persistent session and returns what it receives. */
async function resume(url: string, expected: number): Promise<{ sessionPresent: boolean, got: string[], client: MqttClient }> {
  let sessionPresent = false
  // Collect from the first byte: the queued messages follow CONNACK immediately.
  const client = mqtt.connect(url, { clientId: 'keeper', clean: false, reconnectPeriod: 0 })
  const got = collect(client)
  await new Promise<void>((resolve, reject) => {
    client.once('connect', (connack) => { sessionPresent = connack.sessionPresent; resolve() })
    client.once('error', reject)
  })
  await waitFor(() => got.filter((m) => m.topic === 'dur/m').length >= expected, `${expected} queued messages`)
  return { sessionPresent, got: got.filter((m) => m.topic === 'dur/m').map((m) => m.payload), client }
}

/** A new subscriber gets the retained message prepareOfflineSession left. */
async function expectRetained(url: string): Promise<void> {
  const late = await connect(url)
  cleanups.push(() => close(late))
  const retained = collect(late)
  await late.subscribeAsync('dur/state', { qos: 1 })
  await waitFor(() => retained.length === 1, 'retained message')
  expect(retained[0]).toMatchObject({ payload: 'retained-v1', retain: true })
}

describe('state survives a hub restart', () => {
  it('keeps the persistent session, offline queue and retained messages across a graceful restart', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const first = await startHub(dir.path, { allowAnonymous: true })
    await prepareOfflineSession(`mqtt://127.0.0.1:${first.ports.mqtt}`, 20)
    await first.stop()

    const second = await startHub(dir.path, { allowAnonymous: true })
    cleanups.push(() => second.stop())
    const url = `mqtt://127.0.0.1:${second.ports.mqtt}`
    const { sessionPresent, got, client } = await resume(url, 20)
    cleanups.push(() => close(client))
    expect(sessionPresent).toBe(true)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `msg-${i}`))

    await expectRetained(url)
  })

  it('keeps them across kill -9 of the hub process right after the last PUBACK', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    let hub: SpawnedHub = await spawnHub(['--id', 'k1', '--data', dir.path, '--allow-anonymous'])
    cleanups.push(() => stopHub(hub, 'SIGKILL'))
    await prepareOfflineSession(`mqtt://127.0.0.1:${hub.ports.mqtt}`, 20)
    // No waiting: a PUBACK means the message is committed (patches/aedes+1.2.0.patch), so a
    // kill right after the last one loses nothing.
    const exit = await stopHub(hub, 'SIGKILL')
    expect(exit.signal).toBe('SIGKILL')

    hub = await spawnHub(['--id', 'k1', '--data', dir.path, '--allow-anonymous'])
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const { sessionPresent, got, client } = await resume(url, 20)
    cleanups.push(() => close(client))
    expect(sessionPresent).toBe(true)
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `msg-${i}`))
    await expectRetained(url)
  })

  it('publishes the will of a client whose hub was killed, when the hub comes back', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    let hub = await spawnHub(['--id', 'k2', '--data', dir.path, '--allow-anonymous'])
    cleanups.push(() => stopHub(hub, 'SIGKILL'))
    const dev = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, { clientId: 'dev-will', will: { topic: 'status/dev-will', payload: Buffer.from('offline'), qos: 1, retain: true } })
    dev.on('error', () => {})
    // aedes stores the will before CONNACK (connect.js storeWill), so it is on disk already.
    expect(committedRows(dir.path, "SELECT count(*) AS n FROM wills WHERE client_id = 'dev-will'")).toBe(1)
    await stopHub(hub, 'SIGKILL')
    dev.end(true)

    hub = await spawnHub(['--id', 'k2', '--data', dir.path, '--allow-anonymous'])
    const watcher = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    cleanups.push(() => close(watcher))
    const got = collect(watcher)
    await watcher.subscribeAsync('status/#', { qos: 1 })
    await waitFor(() => got.length === 1, 'will delivered (retained)')
    expect(got[0]).toMatchObject({ topic: 'status/dev-will', payload: 'offline' })
  })

  it('publishes the wills of connected clients on a graceful stop, and leaves none to publish again', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const hub = await startHub(dir.path, { allowAnonymous: true })
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const watcher = await connect(url, { clientId: 'watcher' })
    const atStop = collect(watcher)
    await watcher.subscribeAsync('status/#', { qos: 1 })
    const dev = await connect(url, { clientId: 'dev-graceful', will: { topic: 'status/dev-graceful', payload: Buffer.from('offline'), qos: 1, retain: false } })
    dev.on('error', () => {})
    await hub.stop()
    expect(atStop.map((m) => `${m.topic}=${m.payload}`)).toEqual(['status/dev-graceful=offline'])
    await close(watcher, dev)
    // Nothing left for publishOrphanedWills to send again at the next start.
    expect(committedRows(dir.path, 'SELECT count(*) AS n FROM wills')).toBe(0)
  })

  it('flushes the store on SIGTERM and exits 0', async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const hub = await spawnHub(['--id', 'k3', '--data', dir.path, '--allow-anonymous', '--group-commit-ms', '1000'])
    cleanups.push(() => stopHub(hub, 'SIGKILL'))
    const pub = await connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`)
    await pub.publishAsync('flush/me', 'v', { qos: 1, retain: true })
    await pub.endAsync()
    const exit = await stopHub(hub, 'SIGTERM')
    expect(exit.code).toBe(0)
    expect(committedRows(dir.path, "SELECT count(*) AS n FROM retained WHERE topic = 'flush/me'")).toBe(1)
  })
})
