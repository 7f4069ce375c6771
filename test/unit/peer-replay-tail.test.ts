import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import type { DeliverMessage, RouterMessage } from '../../hub/src/routing/messages.js'
import { PeerReplay } from '../../hub/src/routing/peer-replay.js'
import { SentOffsets } from '../../hub/src/routing/sent-offsets.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

/** An owner whose log holds `seqs` of each key in epoch 1, numbering `epochNow` now; its link to h3 just came back. */
function owner(opts: { keys?: string[], seqs?: number, epochNow?: number, failRead?: boolean } = {}): { replay: PeerReplay, sent: SentOffsets, frames: DeliverMessage[], clock: ManualClock, stats: { tailsResent: number, deliveriesResent: number, replayedToReturningPeers: number } } {
  const keys = opts.keys ?? ['devices/a']
  const seqs = opts.seqs ?? 5
  const clock = new ManualClock()
  const sent = new SentOffsets()
  const frames: DeliverMessage[] = []
  const stats = { tailsResent: 0, deliveriesResent: 0, replayedToReturningPeers: 0 }
  const entry = (key: string, seq: number): LogEntry => ({ key, epoch: 1, seq, topic: `${key}/t`, payload: Buffer.from(`m${seq}`), qos: 1, retain: false, tsMs: 0 })
  const replay = new PeerReplay({
    sequencer: { ownedKeys: keys.values(), offsetOf: () => ({ epoch: opts.epochNow ?? 1, seq: seqs }) },
    topicLog: {
      since: (key: string, from: Offset, limit = 1000) => {
        if (opts.failRead) throw new Error('database is closed')
        return Array.from({ length: seqs }, (_, i) => entry(key, i + 1)).filter((e) => e.epoch > from.epoch || e.seq > from.seq).slice(0, limit)
      },
    },
    interest: { isActive: () => true, isDormant: () => false, peersFor: () => ['h3'] },
    bus: { send: (_peer: string, m: RouterMessage) => { if (m.t === 'deliver') frames.push(m); return true } },
    sent, owns: () => true, stats, clock, log: silentLogger(),
  })
  return { replay, sent, frames, clock, stats }
}

describe('PeerReplay.linkOpened (the last delivery of each key, again, on a link that came back)', () => {
  it('sends the last delivery of each key once more, on a later turn, naming what it named the first time', () => {
    const { replay, sent, frames, clock, stats } = owner({ keys: ['devices/a', 'devices/b'] })
    sent.sent('h3', { key: 'devices/a', epoch: 1, seq: 5 }, { epoch: 1, seq: 2 }) // 3-4 were not for h3
    sent.sent('h3', { key: 'devices/b', epoch: 1, seq: 4 }, undefined)
    replay.linkOpened('h3')
    expect(frames, 'not inside the handshake').toEqual([])
    clock.advance(0)
    expect(frames.map((f) => [f.key, f.seq, f.payload.toString(), f.from])).toEqual([
      ['devices/a', 5, 'm5', { epoch: 1, seq: 2 }],
      ['devices/b', 4, 'm4', undefined], // it followed 3 directly
    ])
    expect(stats.tailsResent).toBe(2)
    expect([...sent.lastSent('h3')].map(([, o]) => o.seq), 'the records are unchanged').toEqual([5, 4])
  })

  it('sends each key once when the link opens twice before the round runs, and the last delivery as it is then', () => {
    const { replay, sent, frames, clock } = owner({ seqs: 7 })
    sent.sent('h3', { key: 'devices/a', epoch: 1, seq: 5 }, undefined)
    replay.linkOpened('h3')
    sent.sent('h3', { key: 'devices/a', epoch: 1, seq: 7 }, { epoch: 1, seq: 5 }) // a live one went since (6 not for h3)
    replay.linkOpened('h3')
    clock.advance(0)
    expect(frames.map((f) => [f.seq, f.from])).toEqual([[7, { epoch: 1, seq: 5 }]])
  })

  it('sends nothing of a key this hub numbers in a newer epoch now (it gave the key up and took it back without a ring change)', () => {
    const { replay, sent, frames, clock } = owner({ epochNow: 2 })
    sent.sent('h3', { key: 'devices/a', epoch: 1, seq: 5 }, undefined)
    replay.linkOpened('h3')
    clock.advance(0)
    expect(frames).toEqual([])
  })

  it('sends every key, TAIL_BATCH a turn, and stops at a failed log read, logged, without throwing into the link', () => {
    const keys = Array.from({ length: 1_200 }, (_, i) => `devices/k${i}`)
    const many = owner({ keys, seqs: 2 })
    for (const key of keys) many.sent.sent('h3', { key, epoch: 1, seq: 2 }, undefined)
    many.replay.linkOpened('h3')
    many.clock.advance(0)
    expect(new Set(many.frames.map((f) => f.key)).size).toBe(1_200)
    const failing = owner({ failRead: true })
    failing.sent.sent('h3', { key: 'devices/a', epoch: 1, seq: 5 }, undefined)
    expect(() => { failing.replay.linkOpened('h3'); failing.clock.advance(0) }).not.toThrow()
    expect(failing.frames).toEqual([])
  })
})
