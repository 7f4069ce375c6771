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

describe('the tap\'s rate bound', () => {
  /** Opens a tap at `maxPerS` and returns the times (ms) at which each let-through message was published. */
  function run(maxPerS: number, schedule: (publish: () => void, clock: ManualClock) => void): { passed: number[], skipped: number } {
    const clock = new ManualClock()
    const { broker, publish } = bus()
    const frames: AdminServerFrame[] = []
    const tap = new LiveTap({ broker, clock, metrics: new AdminMetrics(new Registry()) })
      .open({ send: (frame) => { frames.push(frame) } }, { ref: 't', op: 'subscribe', channel: 'tap', filter: '#', maxPerS })
    const start = clock.now()
    // Each message carries its publish time, so the test sees when it entered, not when it was flushed.
    schedule(() => publish('devices/d1/t', Buffer.from(String(clock.now() - start))), clock)
    clock.advance(TAP_FLUSH_MS)
    if (typeof tap !== 'string') tap.stop()
    const taps = frames.filter((f): f is Extract<AdminServerFrame, { op: 'tap' }> => f.op === 'tap')
    return { passed: taps.flatMap((f) => f.messages.map((m) => Number(m.payload))), skipped: taps.reduce((s, f) => s + f.skipped, 0) }
  }

  /** The most messages let through in any 1000 ms window. */
  function busiestSecond(times: readonly number[]): number {
    let most = 0
    for (const [i, t] of times.entries()) most = Math.max(most, times.slice(i).filter((u) => u < t + 1000).length)
    return most
  }

  /** `bursts`: [time ms, messages] in time order. */
  function publishAt(bursts: ReadonlyArray<readonly [number, number]>): (publish: () => void, clock: ManualClock) => number {
    return (publish, clock) => {
      let sent = 0
      let now = 0
      for (const [atMs, n] of bursts) {
        clock.advance(atMs - now)
        now = atMs
        for (let i = 0; i < n; i++) { publish(); sent++ }
      }
      return sent
    }
  }

  it.each([
    // [name, maxPerS, bursts]
    ['a steady flood, one a millisecond', 5, Array.from({ length: 5_000 }, (_, t) => [t, 1] as const)],
    ['a trickle, then bursts on both sides of where a second starts', 10, [[0, 1], [990, 20], [1_000, 20], [1_500, 20], [2_001, 20], [2_990, 20]] as const],
    ['bursts every 500 ms', 20, Array.from({ length: 8 }, (_, i) => [i * 500, 100] as const)],
    ['a trickle under the bound', 50, Array.from({ length: 75 }, (_, i) => [i * 40, 1] as const)],
  ] as const)('never lets more than maxPerS through in any 1 s window: %s', (_name, maxPerS, bursts) => {
    let sent = 0
    const { passed, skipped } = run(maxPerS, (publish, clock) => { sent = publishAt(bursts)(publish, clock) })
    expect(busiestSecond(passed), `let through at ${passed.join(',')}`).toBeLessThanOrEqual(maxPerS)
    expect(passed.length + skipped).toBe(sent)
  })

  it('is not starved by a flood: it lets maxPerS through every second', () => {
    const { passed } = run(20, (publish, clock) => { publishAt(Array.from({ length: 10_000 }, (_, t) => [t, 3] as const))(publish, clock) })
    for (let second = 0; second < 10; second++) expect(passed.filter((t) => t >= second * 1000 && t < (second + 1) * 1000).length, `second ${second}`).toBe(20)
  })

  it('lets everything through under the bound', () => {
    const { passed, skipped } = run(50, (publish, clock) => { publishAt(Array.from({ length: 100 }, (_, i) => [i * 25, 1] as const))(publish, clock) })
    expect(passed).toHaveLength(100)
    expect(skipped).toBe(0)
  })
})
