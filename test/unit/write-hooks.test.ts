import { Duplex } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { coalesceWrites, countWrites } from '../../hub/src/mqtt/write-hooks.js'

/** A duplex that records how its writes reach the "socket": one entry per underlying write. */
function recorder(): { conn: Duplex, batches: string[][] } {
  const batches: string[][] = []
  const conn = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) { batches.push([chunk.toString()]); cb() },
    writev(chunks, cb) { batches.push(chunks.map((c) => String(c.chunk))); cb() },
  })
  return { conn, batches }
}

describe('coalesceWrites', () => {
  it('sends everything written in one event-loop turn as one write', async () => {
    const { conn, batches } = recorder()
    coalesceWrites(conn)
    conn.write('a')
    conn.write('b')
    conn.write('c')
    expect(batches).toEqual([]) // held until the turn ends
    await nextTurn()
    expect(batches).toEqual([['a', 'b', 'c']])
    conn.write('d')
    await nextTurn()
    expect(batches).toEqual([['a', 'b', 'c'], ['d']])
  })

  it('flushes what is held when the stream is ended', async () => {
    const { conn, batches } = recorder()
    coalesceWrites(conn)
    conn.write('x')
    conn.end('y')
    await new Promise<void>((resolve) => conn.once('finish', () => resolve()))
    expect(batches.flat()).toEqual(['x', 'y'])
  })
})

describe('countWrites', () => {
  it('counts buffer and string bytes', () => {
    const { conn } = recorder()
    let total = 0
    countWrites(conn, (n) => { total += n })
    conn.write(Buffer.alloc(10))
    conn.write('héllo') // 6 bytes in UTF-8
    expect(total).toBe(16)
  })
})
