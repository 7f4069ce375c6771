// SqlitePersistence beyond aedes-persistence's abstract suite: state survives closing and
// reopening the SQLite file, queue order, and [MQTT-4.7.2-1] for $ topics.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { HubDb } from '../../hub/src/store/db.js'
import { SqlitePersistence, type PacketLike } from '../../hub/src/store/sqlite-persistence.js'

const root = mkdtempSync(join(tmpdir(), 'ringhub-reopen-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const broker = { id: 'hub-1', counter: 0 }
const client = { id: 'device-7' }

async function openPersistence(path: string): Promise<{ db: HubDb, p: SqlitePersistence }> {
  const db = HubDb.open({ path, clock: systemClock, log: silentLogger() })
  const p = new SqlitePersistence({ db, log: silentLogger() })
  await p.setup(broker)
  return { db, p }
}

async function all<T = PacketLike>(stream: Readable): Promise<T[]> {
  const list: T[] = []
  for await (const item of stream) list.push(item as T)
  return list
}

const publish = (n: number, extra: Partial<PacketLike> = {}): PacketLike => ({
  cmd: 'publish', topic: `devices/d7/cmd/${n}`, payload: Buffer.from(`p${n}`), qos: 1, retain: false, dup: false,
  brokerId: broker.id, brokerCounter: n, ...extra,
})

describe('SqlitePersistence across a reopen', () => {
  it('keeps retained messages, subscriptions, queues, incoming QoS 2 packets and wills', async () => {
    const path = join(root, 'a', 'hub.sqlite')
    const first = await openPersistence(path)
    const v5 = { correlationData: Buffer.from([1, 2, 3]), userProperties: { site: 'plant-4' }, contentType: 'text/plain' }

    await first.p.storeRetained({ cmd: 'publish', topic: 'devices/d7/state', payload: Buffer.from('on'), qos: 1, retain: true, properties: v5 })
    await first.p.storeRetained({ cmd: 'publish', topic: 'devices/d7/gone', payload: Buffer.from('x'), qos: 0, retain: true })
    await first.p.storeRetained({ cmd: 'publish', topic: 'devices/d7/gone', payload: Buffer.alloc(0), qos: 0, retain: true })

    await first.p.addSubscriptions(client, [
      { topic: 'devices/d7/cmd/#', qos: 1, rh: 0, rap: true, nl: false, subscriptionIdentifier: 9 },
      { topic: 'devices/+/status', qos: 2, rh: 1, rap: false, nl: true },
      { topic: 'news', qos: 0, rh: 0, rap: false, nl: false },
    ])

    // Twenty queued packets; #1 gets a messageId in place, #2 becomes a PUBREL, #3 is acknowledged.
    for (let n = 1; n <= 20; n++) await first.p.outgoingEnqueue({ clientId: client.id }, publish(n, n === 5 ? { properties: v5 } : {}))
    await first.p.outgoingUpdate(client, { ...publish(1), messageId: 101 })
    await first.p.outgoingUpdate(client, { ...publish(2), messageId: 102 })
    await first.p.outgoingUpdate(client, { cmd: 'pubrel', messageId: 102 })
    await first.p.outgoingUpdate(client, { ...publish(3), messageId: 103 })
    expect((await first.p.outgoingClearMessageId(client, { messageId: 103 }))?.brokerCounter).toBe(3)

    await first.p.incomingStorePacket(client, { cmd: 'publish', topic: 'up/q2', payload: Buffer.from('q2'), qos: 2, messageId: 7, retain: false, dup: false })
    await first.p.putWill(client, { topic: 'devices/d7/status', payload: Buffer.from('offline'), qos: 1, retain: true })
    await first.p.destroy()
    expect(first.db.closed).toBe(false) // the caller owns the db
    first.db.close()

    const second = await openPersistence(path)
    try {
      const { p } = second
      expect(p.retainedCount).toBe(1)
      const retained = await all(p.createRetainedStream('devices/#'))
      expect(retained).toEqual([{ cmd: 'publish', topic: 'devices/d7/state', payload: Buffer.from('on'), qos: 1, retain: true, properties: v5 }])
      expect(Buffer.isBuffer((retained[0]?.properties as typeof v5).correlationData)).toBe(true)

      expect(await p.subscriptionsByClient(client)).toEqual([
        { topic: 'devices/d7/cmd/#', qos: 1, rh: 0, rap: true, nl: false, subscriptionIdentifier: 9 },
        { topic: 'devices/+/status', qos: 2, rh: 1, rap: false, nl: true },
        { topic: 'news', qos: 0, rh: 0, rap: false, nl: false },
      ])
      expect(await p.subscriptionsByTopic('devices/d7/cmd/reboot')).toEqual([
        { clientId: client.id, topic: 'devices/d7/cmd/#', qos: 1, rh: 0, rap: true, nl: false },
      ])
      expect(await p.subscriptionsByTopic('news')).toEqual([]) // QoS 0: restored, never matched
      expect(await p.countOffline()).toEqual({ subsCount: 2, clientsCount: 1 })
      expect(await all(p.getClientList('news'))).toEqual([client.id])

      const queue = await all(p.outgoingStream(client))
      expect(queue.map((q) => q.cmd === 'pubrel' ? 'pubrel' : q.brokerCounter)).toEqual(
        [1, 'pubrel', ...Array.from({ length: 17 }, (_, i) => i + 4)])
      expect(queue[0]).toMatchObject({ messageId: 101, topic: 'devices/d7/cmd/1', payload: Buffer.from('p1'), qos: 1, retain: false, dup: false, brokerId: 'hub-1' })
      expect(queue[1]).toEqual({ cmd: 'pubrel', messageId: 102 })
      expect(queue[2]).toHaveProperty('messageId', undefined)
      expect(queue.find((q) => q.brokerCounter === 5)?.properties).toEqual(v5)

      expect(await p.incomingGetPacket(client, { messageId: 7 })).toMatchObject({ topic: 'up/q2', payload: Buffer.from('q2'), qos: 2, messageId: 7 })
      expect(await p.getWill(client)).toEqual({
        topic: 'devices/d7/status', payload: Buffer.from('offline'), qos: 1, retain: true, brokerId: 'hub-1', clientId: client.id,
      })
      expect(await all(p.streamWill({ 'hub-1': 1 }))).toEqual([])
      expect(await all(p.streamWill({}))).toHaveLength(1)

      // Clearing after the reopen is durable too.
      await p.cleanSubscriptions(client)
      await p.cleanIncoming(client)
      await p.delWill(client)
      for (const q of queue) await p.outgoingClearMessageId(client, q)
      await p.destroy()
    } finally {
      second.db.close()
    }

    const third = await openPersistence(path)
    try {
      expect(await third.p.subscriptionsByClient(client)).toEqual([])
      expect(await third.p.countOffline()).toEqual({ subsCount: 0, clientsCount: 0 })
      expect(await all(third.p.outgoingStream(client))).toEqual([])
      await expect(third.p.incomingGetPacket(client, { messageId: 7 })).rejects.toThrow(/no such packet/)
      expect(await third.p.getWill(client)).toBeUndefined()
      expect(third.p.retainedCount).toBe(1)
    } finally {
      third.db.close()
    }
  })

  it('keeps FIFO order of a client queue when packets are cleared from the middle', async () => {
    const { db, p } = await openPersistence(join(root, 'b', 'hub.sqlite'))
    try {
      for (let n = 1; n <= 6; n++) {
        await p.outgoingEnqueueCombi([{ clientId: 'x' }, { clientId: 'y' }], publish(n))
        await p.outgoingUpdate({ id: 'x' }, { ...publish(n), messageId: n })
      }
      await p.outgoingClearMessageId({ id: 'x' }, { messageId: 6 })
      await p.outgoingClearMessageId({ id: 'x' }, { messageId: 2 })
      await p.outgoingEnqueue({ clientId: 'x' }, publish(7))
      expect((await all(p.outgoingStream({ id: 'x' }))).map((q) => q.brokerCounter)).toEqual([1, 3, 4, 5, 7])
      expect((await all(p.outgoingStream({ id: 'y' }))).map((q) => q.brokerCounter)).toEqual([1, 2, 3, 4, 5, 6])
      await expect(p.outgoingUpdate({ id: 'x' }, { ...publish(99), brokerId: 'other', messageId: 999 })).rejects.toThrow(/no such packet/)
    } finally {
      db.close()
    }
  })

  it('never matches $ topics with a filter that starts with a wildcard [MQTT-4.7.2-1]', async () => {
    const { db, p } = await openPersistence(join(root, 'c', 'hub.sqlite'))
    try {
      await p.storeRetained({ cmd: 'publish', topic: '$SYS/broker/uptime', payload: Buffer.from('5 seconds'), qos: 0, retain: true })
      await p.storeRetained({ cmd: 'publish', topic: 'plain/a', payload: Buffer.from('x'), qos: 0, retain: true })
      const topics = async (patterns: string[]) => (await all(p.createRetainedStreamCombi(patterns))).map((r) => r.topic)
      expect(await topics(['#'])).toEqual(['plain/a'])
      expect(await topics(['+/broker/uptime', '+/a'])).toEqual(['plain/a'])
      expect(await topics(['$SYS/#'])).toEqual(['$SYS/broker/uptime'])
      expect((await all(p.createRetainedStream('$SYS/+/uptime'))).length).toBe(1)

      await p.addSubscriptions({ id: 'all' }, [{ topic: '#', qos: 1 }, { topic: '+/x', qos: 1 }, { topic: '$ctl/x', qos: 1 }])
      expect((await p.subscriptionsByTopic('$ctl/x')).map((s) => s.topic)).toEqual(['$ctl/x'])
      expect((await p.subscriptionsByTopic('ctl/x')).map((s) => s.topic).sort()).toEqual(['#', '+/x'])
    } finally {
      db.close()
    }
  })
})
