import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { FrameKind, FrameReader, encodeFrame } from '../../hub/src/routing/link-frames.js'
import { asRouterRequest, type PublishBatchRequest, type ReplicateRequest, type RouterRequest } from '../../hub/src/routing/messages.js'
import { packRequest } from '../../hub/src/routing/request-rows.js'

// A forwarded publish and its copies travel as rows (`publish-rows`, `replicate-rows`); the
// receiver must get back exactly the object the sender's code built, and nothing malformed.

/** Through the real frame encoder and reader, as the link carries it. */
function overTheWire(r: RouterRequest): RouterRequest {
  const [frame] = new FrameReader(1 << 20).push(encodeFrame(FrameKind.request, 7, packRequest(r)))
  return asRouterRequest(frame?.body)
}

// Buffers: what the frame reader gives back for msgpack bin.
const payload = (s: string): Uint8Array => Buffer.from(s)

describe('publish and replica batches as rows', () => {
  it('carries a publish batch as rows and gives back every item, in order', () => {
    const batch: PublishBatchRequest = {
      t: 'publish-batch',
      items: [
        { id: 'a:1', topic: 'devices/d1/t', payload: payload('x'), qos: 1, retain: false },
        { id: 'a:2', topic: 'devices/d2/t', payload: payload(''), qos: 0, retain: true },
      ],
    }
    expect(packRequest(batch)).toMatchObject({ t: 'publish-rows', rows: [['a:1', 'devices/d1/t', payload('x'), 1, false], ['a:2', 'devices/d2/t', payload(''), 0, true]] })
    expect(overTheWire(batch)).toEqual(batch)
  })

  it('carries the first unfinished publish of a key when the ingress names it, and reads rows of hubs that do not', () => {
    const batch: PublishBatchRequest = {
      t: 'publish-batch',
      items: [
        { id: 'a:7', topic: 'devices/d1/t', payload: payload('x'), qos: 1, retain: false, first: 5 },
        { id: 'a:8', topic: 'devices/d1/t', payload: payload('y'), qos: 1, retain: false },
      ],
    }
    expect(packRequest(batch)).toMatchObject({ t: 'publish-rows', rows: [['a:7', 'devices/d1/t', payload('x'), 1, false, 5], ['a:8', 'devices/d1/t', payload('y'), 1, false]] })
    const back = overTheWire(batch) as PublishBatchRequest
    expect(back).toEqual(batch)
    expect(Object.keys(back.items[1] ?? {})).not.toContain('first')
  })

  it('carries copies with no id, an id, and an id and an ingress, each as it was', () => {
    const base = { key: 'devices/d1', epoch: 3, seq: 9, topic: 'devices/d1/t', payload: payload('p'), qos: 1 as const, retain: false, tsMs: 1_700_000_000_123 }
    const copies: ReplicateRequest = { t: 'replicate', entries: [{ ...base }, { ...base, seq: 10, id: 'b:4' }, { ...base, seq: 11, qos: 2, retain: true, id: 'c:5', via: 'c' }] }
    const back = overTheWire(copies) as ReplicateRequest
    expect(back).toEqual(copies)
    // No field that was absent comes back as undefined (the replica tests `e.id !== undefined`).
    expect(Object.keys(back.entries[0] ?? {})).not.toContain('id')
    expect(Object.keys(back.entries[1] ?? {})).not.toContain('via')
  })

  it('leaves other requests as they are', () => {
    const log: RouterRequest = { t: 'log', key: 'devices/d1', epoch: 1, seq: 2, limit: 10 }
    expect(packRequest(log)).toBe(log)
  })

  const row = ['devices/d1', 1, 2, 'devices/d1/t', payload('p'), 1, false, 5]
  it.each([
    ['rows missing', { t: 'publish-rows' }],
    ['rows not a list', { t: 'replicate-rows', rows: {} }],
    ['publish row too short', { t: 'publish-rows', rows: [['a:1', 'devices/d1/t', payload('x'), 1]] }],
    ['publish row with a bad qos', { t: 'publish-rows', rows: [['a:1', 'devices/d1/t', payload('x'), 3, false]] }],
    ['publish row with a string payload', { t: 'publish-rows', rows: [['a:1', 'devices/d1/t', 'x', 1, false]] }],
    ['publish row with a negative first', { t: 'publish-rows', rows: [['a:1', 'devices/d1/t', payload('x'), 1, false, -1]] }],
    ['replica row too short', { t: 'replicate-rows', rows: [row.slice(0, 7)] }],
    ['replica row with a negative seq', { t: 'replicate-rows', rows: [['devices/d1', 1, -2, ...row.slice(3)]] }],
    ['replica row with a numeric id', { t: 'replicate-rows', rows: [[...row, 7]] }],
    ['replica row with an ingress but a null id', { t: 'replicate-rows', rows: [[...row, null, 'a']] }],
    ['one good row and one bad', { t: 'replicate-rows', rows: [row, [...row.slice(0, 4), 'p', ...row.slice(5)]] }],
  ])('refuses %s (ProtocolError: the link is closed)', (_name, body) => {
    expect(() => asRouterRequest(body)).toThrow(ProtocolError)
  })

  it('reads rows with fields after the ones it knows (a later hub\'s), ignoring them: rows are append-only', () => {
    expect(asRouterRequest({ t: 'publish-rows', rows: [['a:1', 'devices/d1/t', payload('x'), 1, false, 1, 'later']] }))
      .toEqual({ t: 'publish-batch', items: [{ id: 'a:1', topic: 'devices/d1/t', payload: payload('x'), qos: 1, retain: false, first: 1 }] })
    expect(asRouterRequest({ t: 'replicate-rows', rows: [[...row, 'a:1', 'a', 'later']] }))
      .toEqual({ t: 'replicate', entries: [{ key: 'devices/d1', epoch: 1, seq: 2, topic: 'devices/d1/t', payload: payload('p'), qos: 1, retain: false, tsMs: 5, id: 'a:1', via: 'a' }] })
  })
})
