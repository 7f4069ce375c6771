import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ReadGate } from '../../hub/src/mqtt/read-gate.js'

/** A connection as aedes reads it: `read(null)` on 'readable'. Small high-water mark, so chunks stay apart. */
function connection(): PassThrough {
  return new PassThrough({ highWaterMark: 16 })
}

describe('ReadGate', () => {
  it('tells of every chunk read, and a close from that report holds the very next read', () => {
    const seen: number[] = []
    let held = 0
    const gate: ReadGate = new ReadGate(() => { held++ }, (bytes) => {
      seen.push(bytes)
      if (seen.length === 2) gate.close() // the governor's look found high water
    })
    const conn = connection()
    gate.install(conn, () => true)
    conn.write(Buffer.alloc(5))
    expect(conn.read()).toHaveLength(5)
    conn.write(Buffer.alloc(7))
    expect(conn.read()).toHaveLength(7)
    conn.write(Buffer.alloc(3))
    expect(conn.read(), 'held: nothing read, nothing lost').toBeNull()
    expect(seen).toEqual([5, 7])
    expect(held).toBe(1)
    expect(gate.waiting).toBe(1)
    gate.open()
    expect(conn.read()).toHaveLength(3)
    expect(seen).toEqual([5, 7, 3])
  })

  it('reads a connection not yet held (its CONNECT) while closed, and reports it', () => {
    const seen: number[] = []
    const gate = new ReadGate(() => {}, (bytes) => seen.push(bytes))
    gate.close()
    const conn = connection()
    gate.install(conn, () => false)
    conn.write(Buffer.alloc(4))
    expect(conn.read()).toHaveLength(4)
    expect(seen).toEqual([4])
  })
})
