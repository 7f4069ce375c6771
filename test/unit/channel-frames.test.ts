import { describe, expect, it } from 'vitest'
import { framePayload, maxChannelFrameBytes, parseChannelFrame, payloadOfFrame } from '../../hub/src/admin/channel-frames.js'
import { reachesBack, readKeyLog } from '../../hub/src/routing/log-reach.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

describe('channel frames', () => {
  it.each([
    ['{oops', null, 'malformed-json'],
    ['"join"', null, 'not-object'],
    ['[]', null, 'not-object'],
    ['{"op":"join","topic":"a/#"}', null, 'no-ref'],
    ['{"ref":"","op":"heartbeat"}', null, 'no-ref'],
    [JSON.stringify({ ref: 'x'.repeat(129), op: 'heartbeat' }), null, 'no-ref'],
    ['{"ref":"1","op":"nope"}', '1', 'unknown-op'],
    ['{"ref":"1","op":"join"}', '1', 'bad-topic'],
    ['{"ref":"1","op":"join","topic":"a/#/b"}', '1', 'bad-topic'],
    ['{"ref":"1","op":"join","topic":"a/b+"}', '1', 'bad-topic'],
    ['{"ref":"1","op":"join","topic":"a/b","qos":2}', '1', 'bad-qos'],
    ['{"ref":"1","op":"join","topic":"a/b","since":{"epoch":1}}', '1', 'bad-since'],
    ['{"ref":"1","op":"join","topic":"a/b","since":{"epoch":1.5,"seq":2}}', '1', 'bad-since'],
    ['{"ref":"1","op":"publish","topic":"a/+","payload":1}', '1', 'bad-topic'],
    ['{"ref":"1","op":"publish","topic":"$SYS/x","payload":1}', '1', 'bad-topic'],
    ['{"ref":"1","op":"publish","topic":"a/\\u0000","payload":1}', '1', 'bad-topic'],
    ['{"ref":"1","op":"publish","topic":"a/b"}', '1', 'bad-payload'],
    ['{"ref":"1","op":"publish","topic":"a/b","payload":"%%","encoding":"base64"}', '1', 'bad-payload'],
    ['{"ref":"1","op":"publish","topic":"a/b","payload":1,"encoding":"hex"}', '1', 'bad-encoding'],
    ['{"ref":"1","op":"publish","topic":"a/b","payload":1,"retain":"yes"}', '1', 'bad-retain'],
    ['{"ref":"1","op":"presence","topic":"a/#","watch":1}', '1', 'bad-watch'],
    ['{"ref":"1","op":"auth","username":"d1"}', '1', 'bad-auth'],
    ['{"op":"ack","id":0}', null, 'bad-ack'],
    ['{"op":"ack","id":"3"}', null, 'bad-ack'],
  ])('refuses %s with ref %s and code %s', (text, ref, code) => {
    expect(parseChannelFrame(text)).toEqual({ ok: false, ref, code, reason: expect.any(String) as string })
  })

  it('accepts well-formed frames with their defaults', () => {
    expect(parseChannelFrame('{"ref":"1","op":"join","topic":"devices/d1/#"}')).toEqual({ ok: true, frame: { ref: '1', op: 'join', topic: 'devices/d1/#', qos: 0 } })
    expect(parseChannelFrame('{"ref":"1","op":"join","topic":"devices/d1/#","qos":1,"since":{"epoch":2,"seq":0}}')).toEqual({ ok: true, frame: { ref: '1', op: 'join', topic: 'devices/d1/#', qos: 1, since: { epoch: 2, seq: 0 } } })
    expect(parseChannelFrame('{"ref":"1","op":"publish","topic":"a/b","payload":null}')).toEqual({ ok: true, frame: { ref: '1', op: 'publish', topic: 'a/b', payload: null, encoding: 'json', qos: 1, retain: false } })
    expect(parseChannelFrame('{"op":"ack","id":7}')).toEqual({ ok: true, frame: { op: 'ack', id: 7 } })
    expect(parseChannelFrame('{"ref":"1","op":"presence","topic":"a/#"}')).toEqual({ ok: true, frame: { ref: '1', op: 'presence', topic: 'a/#', watch: false } })
  })

  it('carries JSON payloads as JSON text and base64 as bytes, and shows non-JSON bytes as base64', () => {
    expect(payloadOfFrame({ ref: '1', op: 'publish', topic: 'a', payload: { on: true } }).toString()).toBe('{"on":true}')
    expect([...payloadOfFrame({ ref: '1', op: 'publish', topic: 'a', payload: 'AP8=', encoding: 'base64' })]).toEqual([0, 255])
    expect(framePayload(Buffer.from('{"c":21.5}'))).toEqual({ payload: { c: 21.5 } })
    expect(framePayload(Buffer.from('21.5'))).toEqual({ payload: 21.5 })
    expect(framePayload(Buffer.from('on'))).toEqual({ payload: 'b24=', encoding: 'base64' })
    expect(framePayload(Buffer.from([0xff, 0xfe]))).toEqual({ payload: '//4=', encoding: 'base64' })
    expect(framePayload(Buffer.alloc(0))).toEqual({ payload: '', encoding: 'base64' })
    expect(maxChannelFrameBytes(1024 * 1024)).toBeGreaterThan(Math.ceil(1024 * 1024 * 4 / 3))
  })
})

describe('whether an owner\'s log still reaches back to an offset', () => {
  it.each([
    [null, [3, 10], true], // an empty log loses nothing it could tell of
    [[3, 11], [3, 10], true], // the very next one
    [[3, 5], [3, 10], true], // older entries kept
    [[2, 900], [3, 10], true],
    [[3, 12], [3, 10], false], // 3:11 was pruned
    [[4, 1], [3, 10], false], // a new epoch's first entry, or a pruned tail of epoch 3: cannot tell
    [[1, 1], [0, 0], true], // from the very start, nothing pruned
    [[1, 2], [0, 0], false],
  ] as const)('oldest %j, since %j → %s', (oldest, since, expected) => {
    expect(reachesBack(oldest ? { epoch: oldest[0], seq: oldest[1] } : null, { epoch: since[0], seq: since[1] })).toBe(expected)
  })
})

describe('readKeyLog (a join catching up from an offset)', () => {
  const entry = (seq: number): LogEntry => ({ key: 'devices/d1', epoch: 1, seq, topic: 'devices/d1/t', payload: Buffer.from(String(seq)), qos: 1, retain: false, tsMs: 0 })
  /** A ring whose reads answer pages of `size` from `1..last`, with the oldest offset `oldestAt(from)` says. */
  const ring = (last: number, size: number, oldestAt: (from: Offset) => Offset) => {
    const asked: number[] = []
    const read = async (from: Offset): Promise<{ entries: LogEntry[], oldest: Offset | null }> => {
      asked.push(from.seq)
      const entries = Array.from({ length: Math.max(0, Math.min(size, last - from.seq)) }, (_, i) => entry(from.seq + i + 1))
      return { entries, oldest: oldestAt(from) }
    }
    return { read, asked }
  }

  it('reads page after page until a short one', async () => {
    const { read, asked } = ring(25, 10, () => ({ epoch: 1, seq: 1 }))
    const got = await readKeyLog(read, { epoch: 1, seq: 2 }, 10)
    expect(got.complete).toBe(true)
    expect(got.entries.map((e) => e.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 3))
    expect(asked).toEqual([2, 12, 22])
  })

  it('is not complete when a later page shows a gap (a hub that held the rest did not answer), not only the first', async () => {
    // The first page came across hubs from the start; the second, its hub silent, is the owner's own, starting at 21.
    const { read } = ring(30, 10, (from) => (from.seq < 10 ? { epoch: 1, seq: 1 } : { epoch: 1, seq: 21 }))
    const got = await readKeyLog(read, { epoch: 0, seq: 0 }, 10)
    expect(got).toEqual({ complete: false, oldest: { epoch: 1, seq: 21 }, entries: [] })
  })
})
