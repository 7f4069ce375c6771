import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { KeyHandoff } from '../../hub/src/routing/key-handoff.js'
import type { PeerBus } from '../../hub/src/routing/peer-bus.js'
import type { KeyStateReply } from '../../hub/src/routing/messages.js'
import type { Sequencer } from '../../hub/src/routing/sequencer.js'
import type { TopicLog } from '../../hub/src/store/topic-log.js'

// A hub tells a key's state (to the hub taking it over) only once every message of the key it
// numbered has gone out to the interested hubs: those deliveries then travel ahead of the answer
// on the same link, and the new owner's subscribers get them before its first message.
describe('KeyHandoff', () => {
  function handoff(fannedOut: (key: string) => Promise<void>): KeyHandoff {
    const sequencer = { offsetOf: () => ({ epoch: 3, seq: 157 }), ownedKeys: new Set<string>() } as unknown as Sequencer
    const topicLog = { state: () => undefined, tail: () => [], noteEpoch: async () => {}, appendReplica: async () => {} } as unknown as TopicLog
    return new KeyHandoff({
      self: 'h1', bus: {} as PeerBus, ownerOf: () => 'h2', replicasOf: () => ['h2', 'h1'], replicationFactor: 2, sequencer, topicLog,
      retained: { store: async () => {}, matching: async () => [] }, log: silentLogger(), requestTimeoutMs: 1_000,
      stats: { handoffsSent: 0, handoffsReceived: 0 }, interestKnown: async () => {}, fannedOut,
    })
  }

  it('answers a key-state request only once the key\'s numbered messages are fanned out', async () => {
    let release = (): void => {}
    const pending = new Promise<void>((resolve) => { release = resolve })
    const asked: string[] = []
    const h = handoff((key) => { asked.push(key); return pending })
    let reply: KeyStateReply | undefined
    void h.onRequest({ t: 'key-state', key: 'devices/k55', epoch: 0, seq: 0, retained: [] }).then((r) => { reply = r })
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    expect(asked).toEqual(['devices/k55'])
    expect(reply).toBeUndefined()
    release()
    await new Promise((r) => setImmediate(r))
    expect(reply).toMatchObject({ t: 'key-state-reply', epoch: 3, seq: 157 })
  })
})
