import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Outbox, type NewMessage } from '../../device-agent/src/outbox/outbox.js'
import { tempDir } from '../helpers/hubs.js'

const cleanups: Array<() => void> = []
afterEach(() => { while (cleanups.length) cleanups.pop()?.() })

function file(): string {
  const dir = tempDir('ringhub-outbox-')
  cleanups.push(dir.remove)
  return join(dir.path, 'outbox.sqlite')
}

const msg = (device: string, n: number): NewMessage => ({ device, topic: `devices/${device}/telemetry/t`, retain: false, build: (seq) => Buffer.from(JSON.stringify({ device, seq, value: n })) })

describe('Outbox (SQLite file)', () => {
  it('numbers messages per device, keeps them until acked, and survives reopening', () => {
    const path = file()
    const a = new Outbox({ path })
    const stored = a.append([msg('d1', 1), msg('d2', 1), msg('d1', 2)])
    expect(stored.map((m) => [m.device, m.seq])).toEqual([['d1', 1], ['d2', 1], ['d1', 2]])
    expect(JSON.parse(stored[2]!.payload.toString())).toEqual({ device: 'd1', seq: 2, value: 2 })
    a.ack(stored[0]!.id)
    a.flushAcks()
    a.close()

    const b = new Outbox({ path })
    expect(b.stats()).toMatchObject({ queued: 2, dropped: 0 })
    expect(b.pending('d1', 0, 10).map((m) => m.seq)).toEqual([2])
    expect(b.pending('d2', 0, 10).map((m) => m.seq)).toEqual([1])
    // A seq is never handed out twice, even after its row is gone.
    expect(b.append([msg('d1', 3)])[0]!.seq).toBe(3)
    expect(b.allocSeq('d1')).toBe(4)
    b.close()
  })

  it('returns pending rows in order after a cursor, a window at a time', () => {
    const o = new Outbox({ path: file() })
    cleanups.push(() => o.close())
    const ids = o.append(Array.from({ length: 10 }, (_, i) => msg('d1', i))).map((m) => m.id)
    expect(o.pending('d1', 0, 4).map((m) => m.id)).toEqual(ids.slice(0, 4))
    expect(o.pending('d1', ids[3]!, 4).map((m) => m.id)).toEqual(ids.slice(4, 8))
    expect(o.pending('d1', ids[9]!, 4)).toEqual([])
  })

  it('drops the oldest past the message bound and counts them per file', () => {
    const path = file()
    const o = new Outbox({ path, maxMessages: 100 })
    for (let i = 0; i < 25; i++) o.append(Array.from({ length: 6 }, (_, j) => msg(j % 2 ? 'a' : 'b', i * 6 + j)))
    expect(o.stats()).toMatchObject({ queued: 100, dropped: 50 })
    const left = [...o.pending('a', 0, 1000), ...o.pending('b', 0, 1000)].map((m) => JSON.parse(m.payload.toString()).value as number).sort((x, y) => x - y)
    expect(left).toEqual(Array.from({ length: 100 }, (_, i) => i + 50))
    o.close()
    expect(new Outbox({ path }).stats()).toMatchObject({ queued: 100, dropped: 50 })
  })

  it('drops the oldest past the byte bound', () => {
    const o = new Outbox({ path: file(), maxBytes: 5_000 })
    cleanups.push(() => o.close())
    for (let i = 0; i < 200; i++) o.append([msg('d1', i)])
    const { queued, bytes, dropped } = o.stats()
    expect(bytes).toBeLessThanOrEqual(5_000)
    expect(bytes).toBeGreaterThan(5_000 - 100)
    expect(queued + dropped).toBe(200)
    expect(dropped).toBeGreaterThan(100)
    expect(o.pending('d1', 0, 1)[0]!.seq).toBe(dropped + 1)
  })

  it('ignores an ack for a row dropped while in flight', () => {
    const o = new Outbox({ path: file(), maxMessages: 1 })
    cleanups.push(() => o.close())
    const [first] = o.append([msg('d1', 1)])
    o.append([msg('d1', 2)])
    o.ack(first!.id)
    o.flushAcks()
    expect(o.stats()).toMatchObject({ queued: 1, dropped: 1 })
  })
})
