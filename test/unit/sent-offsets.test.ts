import { describe, expect, it } from 'vitest'
import { NO_CLAIM, SentOffsets } from '../../hub/src/routing/sent-offsets.js'

const d = (key: string, epoch: number, seq: number): { key: string, epoch: number, seq: number } => ({ key, epoch, seq })
/** Sends as a live fan-out does: with the claim `fromFor` gives. */
const send = (sent: SentOffsets, peer: string, x: ReturnType<typeof d>): void => sent.sent(peer, x, sent.fromFor(peer, x))

describe('SentOffsets (what a live delivery says came before it, per peer and key)', () => {
  it('claims nothing without a record, says nothing after the message just before, and names an earlier one otherwise', () => {
    const sent = new SentOffsets()
    expect(sent.fromFor('h2', d('k', 1, 5)), 'nothing sent yet (or this hub restarted)').toBe(NO_CLAIM)
    send(sent, 'h2', d('k', 1, 5))
    expect(sent.fromFor('h2', d('k', 1, 6)), 'the message just before').toBeUndefined()
    expect(sent.fromFor('h2', d('k', 1, 9)), '6-8 were not for h2').toEqual({ epoch: 1, seq: 5 })
    expect(sent.fromFor('h2', d('k', 2, 1)), 'a new epoch names the last of the old one').toEqual({ epoch: 1, seq: 5 })
    expect(sent.fromFor('h3', d('k', 1, 6)), 'per peer').toBe(NO_CLAIM)
    expect(sent.fromFor('h2', d('other', 1, 6)), 'per key').toBe(NO_CLAIM)
  })

  it('moves only forward (a copy fanned out again changes nothing), and keeps only the keys it is told to (those this hub owns)', () => {
    const sent = new SentOffsets()
    send(sent, 'h2', d('k', 1, 5))
    send(sent, 'h2', d('k', 1, 3))
    expect(sent.fromFor('h2', d('k', 1, 6))).toBeUndefined()
    send(sent, 'h2', d('k', 2, 1))
    expect(sent.fromFor('h2', d('k', 2, 2))).toBeUndefined()
    send(sent, 'h2', d('moved', 1, 1))
    send(sent, 'h3', d('moved', 1, 1))
    expect(sent.size).toBe(3)
    sent.keepOnly((key) => key !== 'moved')
    expect(sent.size).toBe(1)
    expect(sent.fromFor('h3', d('moved', 2, 1))).toBe(NO_CLAIM)
    expect(sent.fromFor('h2', d('k', 2, 2))).toBeUndefined()
  })

  it('has the last delivery, sent again, claim what it claimed the first time, and lists the last of each key per peer', () => {
    const sent = new SentOffsets()
    send(sent, 'h2', d('k', 1, 5))
    expect(sent.fromFor('h2', d('k', 1, 5)), 'the first one sent: it claimed nothing').toBe(NO_CLAIM)
    send(sent, 'h2', d('k', 1, 6))
    expect(sent.fromFor('h2', d('k', 1, 6)), 'it followed 5 directly').toBeUndefined()
    send(sent, 'h2', d('k', 1, 9))
    expect(sent.fromFor('h2', d('k', 1, 9)), '7-8 were not for h2: 9 named 6').toEqual({ epoch: 1, seq: 6 })
    send(sent, 'h2', d('k', 1, 9))
    expect(sent.fromFor('h2', d('k', 1, 9)), 'sending it again changes nothing').toEqual({ epoch: 1, seq: 6 })
    send(sent, 'h2', d('j', 3, 2))
    send(sent, 'h3', d('k', 1, 4))
    expect([...sent.lastSent('h2')]).toEqual([['k', { epoch: 1, seq: 9 }], ['j', { epoch: 3, seq: 2 }]])
    expect([...sent.lastSent('h4')]).toEqual([])
    // A resend from the log names what it says, not what a live delivery would have.
    sent.sent('h5', d('k', 1, 9), { epoch: 1, seq: 4 })
    expect(sent.fromFor('h5', d('k', 1, 9))).toEqual({ epoch: 1, seq: 4 })
    sent.sent('h5', d('k', 1, 10), undefined)
    expect(sent.fromFor('h5', d('k', 1, 10)), 'it followed 9 directly').toBeUndefined()
  })

  it('names the first delivery of a key sent to this run of a peer, and forgets a peer\'s records when a link opens to another run of it', () => {
    const sent = new SentOffsets()
    sent.linkOpened('h2', 'run-1')
    expect(sent.firstOf('h2', 'k'), 'nothing sent yet').toBeUndefined()
    send(sent, 'h2', d('k', 1, 5))
    send(sent, 'h2', d('k', 1, 9))
    send(sent, 'h2', d('k', 2, 1))
    send(sent, 'h3', d('k', 2, 1))
    expect(sent.firstOf('h2', 'k')).toEqual({ epoch: 1, seq: 5 })
    expect(sent.firstOf('h3', 'k')).toEqual({ epoch: 2, seq: 1 })
    sent.linkOpened('h2', 'run-1') // the same run again (a connection that came back)
    expect(sent.firstOf('h2', 'k')).toEqual({ epoch: 1, seq: 5 })
    expect(sent.fromFor('h2', d('k', 2, 2))).toBeUndefined()
    sent.linkOpened('h2', 'run-2') // h2 restarted: it holds no cursor of what went to run-1
    expect(sent.firstOf('h2', 'k')).toBeUndefined()
    expect(sent.fromFor('h2', d('k', 2, 2))).toBe(NO_CLAIM)
    expect(sent.firstOf('h3', 'k'), 'other peers keep theirs').toEqual({ epoch: 2, seq: 1 })
    send(sent, 'h2', d('k', 2, 4))
    expect(sent.firstOf('h2', 'k')).toEqual({ epoch: 2, seq: 4 })
    sent.keepOnly(() => false)
    expect(sent.firstOf('h3', 'k'), 'a key given up').toBeUndefined()
  })
})
