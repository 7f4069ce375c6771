import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../hub/src/base/errors.js'
import { asRouterMessage } from '../../hub/src/routing/messages.js'

describe('router one-way messages from peers', () => {
  it('takes a well-formed copies-failed notice and refuses a malformed one', () => {
    expect(asRouterMessage({ t: 'copies-failed', ids: ['h1:x:1', 'h1:x:2'] })).toEqual({ t: 'copies-failed', ids: ['h1:x:1', 'h1:x:2'] })
    for (const bad of [{ t: 'copies-failed' }, { t: 'copies-failed', ids: 'h1:x:1' }, { t: 'copies-failed', ids: [1] }]) {
      expect(() => asRouterMessage(bad)).toThrow(ProtocolError)
    }
  })
})
