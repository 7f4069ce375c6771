import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { AcceptorHandshake, DialerHandshake, type LinkPeer } from '../../hub/src/routing/link-handshake.js'
import { FrameKind, type Frame } from '../../hub/src/routing/link-frames.js'
import { dials, redialDelayMs } from '../../hub/src/routing/link-pairing.js'

// The link's pairing rule and handshake without sockets: frames handed from one half to the other.

describe('who dials, and when again', () => {
  it.each([
    ['a', 'b', true],
    ['b', 'a', false],
    ['h10', 'h9', true], // string order, not numeric: the same at both ends is all that matters
    ['gw-1', 'gw-1', false],
  ])('%s dials %s: %s', (from, to, expected) => {
    expect(dials(from, to)).toBe(expected)
    if (from !== to) expect(dials(to, from)).toBe(!expected)
  })

  it.each([
    [0, false, 100],
    [100, false, 200],
    [3_200, false, 5_000],
    [5_000, false, 5_000],
    [5_000, true, 0],
  ])('after a wait of %i ms (stable link: %s) waits %i ms', (previous, stable, expected) => {
    expect(redialDelayMs(previous, stable)).toBe(expected)
  })
})

/** Runs both halves against each other; returns what each learned of the other, or the error. */
function handshake(dialerKeys: Uint8Array[], acceptorKeys: Uint8Array[], opts: { expected?: string, acceptorId?: string, beats?: [number | undefined, number | undefined] } = {}): { dialer?: LinkPeer, acceptor?: LinkPeer, error?: ProtocolError } {
  const toDialer: Frame[] = []
  const toAcceptor: Frame[] = []
  const frame = (kind: FrameKind, body: object): Frame => ({ kind, id: 0, body: structuredClone(body) })
  const [dialerBeat, acceptorBeat] = opts.beats ?? [undefined, undefined]
  const me = { id: 'a', boot: 'boot-a', ...(dialerBeat === undefined ? {} : { beatMs: dialerBeat }) }
  const dialer = new DialerHandshake(me, dialerKeys, opts.expected ?? 'b', (kind, body) => toAcceptor.push(frame(kind, body)))
  const acceptor = new AcceptorHandshake({ id: opts.acceptorId ?? 'b', boot: 'boot-b', ...(acceptorBeat === undefined ? {} : { beatMs: acceptorBeat }) }, acceptorKeys, (kind, body) => toDialer.push(frame(kind, body)))
  const out: { dialer?: LinkPeer, acceptor?: LinkPeer, error?: ProtocolError } = {}
  try {
    dialer.start()
    for (let round = 0; round < 4 && out.dialer === undefined; round++) {
      for (const f of toDialer.splice(0)) out.dialer = dialer.receive(f) ?? out.dialer
      for (const f of toAcceptor.splice(0)) {
        const hello = acceptor.receive(f)
        out.acceptor = { id: hello.id, boot: hello.boot, ...(hello.beatMs === undefined ? {} : { beatMs: hello.beatMs }) }
        acceptor.welcome(hello)
      }
    }
  } catch (err) {
    out.error = err as ProtocolError
  }
  return out
}

describe('the link handshake', () => {
  const k1 = randomBytes(32)
  const k2 = randomBytes(32)

  it.each([
    ['no keys', [], []],
    ['one key', [k1], [k1]],
    ['mid-rotation: each primary installed at the other', [k2, k1], [k1, k2]],
  ])('names both ends with %s', (_what, dialerKeys, acceptorKeys) => {
    expect(handshake(dialerKeys, acceptorKeys)).toEqual({ dialer: { id: 'b', boot: 'boot-b' }, acceptor: { id: 'a', boot: 'boot-a' } })
  })

  it.each([
    ['the dialer holds another key (refused by the acceptor)', [k2], [k1], 'auth-failed', false],
    ['the acceptor\'s primary key is not installed at the dialer (refused by the dialer)', [k1], [k2, k1], 'auth-failed', true],
    ['the dialer has no keys', [], [k1], 'auth-failed', false],
  ])('refuses when %s', (_what, dialerKeys, acceptorKeys, reason, acceptorAdmitted) => {
    const out = handshake(dialerKeys, acceptorKeys)
    expect(out.error).toBeInstanceOf(ProtocolError)
    expect(out.error?.reason).toBe(reason)
    expect(out.dialer).toBeUndefined()
    expect(out.acceptor !== undefined).toBe(acceptorAdmitted)
  })

  it.each([[[] as Uint8Array[]], [[k1]]])('tells each end the other\'s beat interval, when it announced one (keys: %j)', (keys) => {
    expect(handshake(keys, keys, { beats: [1_000, 250] })).toEqual({ dialer: { id: 'b', boot: 'boot-b', beatMs: 250 }, acceptor: { id: 'a', boot: 'boot-a', beatMs: 1_000 } })
    // A hub from before beats announces none, and is told of none it could not read anyway.
    expect(handshake(keys, keys, { beats: [1_000, undefined] })).toEqual({ dialer: { id: 'b', boot: 'boot-b' }, acceptor: { id: 'a', boot: 'boot-a', beatMs: 1_000 } })
  })

  it('refuses a welcome from another hub than the one dialed', () => {
    expect(handshake([k1], [k1], { acceptorId: 'c' }).error?.reason).toBe('wrong-peer')
  })

  it('refuses frames out of order', () => {
    const dialer = new DialerHandshake({ id: 'a', boot: 'x' }, [], 'b', () => {})
    expect(() => dialer.receive({ kind: FrameKind.welcome, id: 0, body: { id: 'b', boot: 'y' } })).toThrowError(/before the welcome/)
    const acceptor = new AcceptorHandshake({ id: 'b', boot: 'y' }, [], () => {})
    expect(() => acceptor.receive({ kind: FrameKind.message, id: 0, body: {} })).toThrowError(/must start with hello/)
    expect(() => acceptor.receive({ kind: FrameKind.hello, id: 0, body: { id: 'a' } })).toThrowError(/needs an id and a boot/)
  })
})
