import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { asRouterMessage, asRouterReply, asRouterRequest } from '../../hub/src/routing/messages.js'

describe('router one-way messages from peers', () => {
  it('takes a well-formed copies-failed notice and refuses a malformed one', () => {
    expect(asRouterMessage({ t: 'copies-failed', ids: ['h1:x:1', 'h1:x:2'] })).toEqual({ t: 'copies-failed', ids: ['h1:x:1', 'h1:x:2'] })
    for (const bad of [{ t: 'copies-failed' }, { t: 'copies-failed', ids: 'h1:x:1' }, { t: 'copies-failed', ids: [1] }]) {
      expect(() => asRouterMessage(bad)).toThrow(ProtocolError)
    }
  })

  it('takes a well-formed question of where deliveries began and its answer, and refuses malformed ones', () => {
    expect(asRouterRequest({ t: 'began', key: 'devices/d1' })).toEqual({ t: 'began', key: 'devices/d1' })
    for (const bad of [{ t: 'began' }, { t: 'began', key: 7 }]) expect(() => asRouterRequest(bad)).toThrow(ProtocolError)
    expect(asRouterReply({ t: 'deliveries-began', first: { epoch: 2, seq: 5 } })).toEqual({ t: 'deliveries-began', first: { epoch: 2, seq: 5 } })
    expect(asRouterReply({ t: 'deliveries-began', first: null })).toEqual({ t: 'deliveries-began', first: null })
    for (const bad of [{ t: 'deliveries-began' }, { t: 'deliveries-began', first: { epoch: 1 } }, { t: 'deliveries-began', first: { epoch: -1, seq: 2 } }]) {
      expect(() => asRouterReply(bad)).toThrow(ProtocolError)
    }
  })

  it('takes a log read with or without an upper bound (`through`), and refuses a malformed bound', () => {
    const read = { t: 'log', key: 'devices/d1', epoch: 0, seq: 0, limit: 1000 }
    expect(asRouterRequest(read)).toEqual(read)
    expect(asRouterRequest({ ...read, through: [3, 501] })).toEqual({ ...read, through: [3, 501] })
    for (const through of [[3], [3, -1], [3, 1, 2], { epoch: 3, seq: 1 }, '3:1', null]) {
      expect(() => asRouterRequest({ ...read, through }), JSON.stringify(through)).toThrow(ProtocolError)
    }
  })
})
