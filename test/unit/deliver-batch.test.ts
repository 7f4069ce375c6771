import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { asRouterMessages } from '../../hub/src/routing/messages.js'

const payload = new Uint8Array([1, 2])

describe('deliver-batch frames (deliveries of one turn to one hub)', () => {
  it('unpacks into deliveries in order; any other message passes as one', () => {
    expect(asRouterMessages({ t: 'deliver-batch', items: [['devices/d1', 1, 7, 'devices/d1/t', payload, 1], ['devices/d2', 2, 1, 'devices/d2/x', payload, 0]] })).toEqual([
      { t: 'deliver', key: 'devices/d1', epoch: 1, seq: 7, topic: 'devices/d1/t', payload, qos: 1 },
      { t: 'deliver', key: 'devices/d2', epoch: 2, seq: 1, topic: 'devices/d2/x', payload, qos: 0 },
    ])
    expect(asRouterMessages({ t: 'barrier', id: 3 })).toEqual([{ t: 'barrier', id: 3 }])
  })

  it.each([
    ['items missing', { t: 'deliver-batch' }],
    ['items not an array', { t: 'deliver-batch', items: 'x' }],
    ['a short item', { t: 'deliver-batch', items: [['devices/d1', 1, 7, 'devices/d1/t', payload]] }],
    ['a negative seq', { t: 'deliver-batch', items: [['devices/d1', 1, -1, 'devices/d1/t', payload, 1]] }],
    ['a string payload', { t: 'deliver-batch', items: [['devices/d1', 1, 1, 'devices/d1/t', 'x', 1]] }],
    ['QoS 3', { t: 'deliver-batch', items: [['devices/d1', 1, 1, 'devices/d1/t', payload, 3]] }],
    ['an unknown type', { t: 'deliver-lots', items: [] }],
  ])('rejects a malformed batch (%s) as a protocol error', (_name, body) => {
    expect(() => asRouterMessages(body)).toThrow(ProtocolError)
  })
})
