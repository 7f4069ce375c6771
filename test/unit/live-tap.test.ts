import type { Aedes, AedesPublishPacket } from 'aedes'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { AdminMetrics } from '../../hub/src/admin/admin-metrics.js'
import { LiveTap, TAP_FLUSH_MS, TAP_MAX_FRAME_BYTES } from '../../hub/src/admin/live-tap.js'
import type { Subscriber } from '../../hub/src/admin/admin-ws.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { AdminServerFrame } from '../../hub/src/contract/admin-api.js'

/** A broker bus with one listener: what the tap subscribes to. */
function bus(): { broker: Aedes, publish: (topic: string, payload: Buffer) => void } {
  let listener: ((p: AedesPublishPacket, done: () => void) => void) | undefined
  const broker = {
    subscribe: (_f: string, l: typeof listener, done: () => void) => { listener = l; done() },
    unsubscribe: (_f: string, _l: unknown, done: () => void) => { listener = undefined; done() },
  } as unknown as Aedes
  return { broker, publish: (topic, payload) => listener?.({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false } as AedesPublishPacket, () => {}) }
}

describe('the live tap', () => {
  it('keeps each frame within its byte bound however late the flush comes, and counts what it skipped', () => {
    const clock = new ManualClock()
    const { broker, publish } = bus()
    const frames: AdminServerFrame[] = []
    const sub: Subscriber = { send: (frame) => { frames.push(frame) } }
    const tap = new LiveTap({ broker, clock, metrics: new AdminMetrics(new Registry()) }).open(sub, { ref: 't', op: 'subscribe', channel: 'tap', filter: 'devices/#', maxPerS: 500 })
    expect(typeof tap).not.toBe('string')
    // 100 messages of 16 KiB within one flush interval: within the rate (500/s), not within a frame.
    for (let i = 0; i < 100; i++) publish(`devices/d${i}/t`, Buffer.alloc(16 * 1024, 'x'))
    clock.advance(TAP_FLUSH_MS)
    expect(frames).toHaveLength(1)
    const frame = frames[0] as Extract<AdminServerFrame, { op: 'tap' }>
    expect(Buffer.byteLength(JSON.stringify(frame))).toBeLessThanOrEqual(TAP_MAX_FRAME_BYTES + 4096)
    expect(frame.messages.length).toBeGreaterThan(0)
    expect(frame.messages.length + frame.skipped).toBe(100)
    // The next interval starts empty: messages fit again.
    publish('devices/d0/t', Buffer.from('small'))
    clock.advance(TAP_FLUSH_MS)
    expect(frames[1]).toMatchObject({ op: 'tap', skipped: 0, messages: [{ topic: 'devices/d0/t', payload: 'small' }] })
    if (typeof tap !== 'string') tap.stop()
  })
})
