import { describe, expect, it } from 'vitest'
import { aclAllows, type Identity } from '../../hub/src/mqtt/acl.js'

const d42: Identity = { username: 'd42', role: 'device' }
const operator: Identity = { username: 'ops', role: 'operator' }
const anonymous: Identity = { username: undefined, role: 'anonymous' }

describe('default ACL', () => {
  it.each([
    [d42, 'publish', 'devices/d42', true],
    [d42, 'publish', 'devices/d42/telemetry/temp', true],
    [d42, 'publish', 'devices/d43/telemetry', false],
    [d42, 'publish', 'devices/d420/telemetry', false],
    [d42, 'publish', 'devices', false],
    [d42, 'publish', 'other/d42', false],
    [d42, 'subscribe', 'devices/d42/#', true],
    [d42, 'subscribe', 'devices/d42/+/temp', true],
    [d42, 'subscribe', 'devices/+/temp', false],
    [d42, 'subscribe', 'devices/#', false],
    [d42, 'subscribe', '#', false],
    [d42, 'subscribe', '$SYS/#', false],
    [operator, 'publish', 'anything/at/all', true],
    [operator, 'subscribe', '#', true],
    [anonymous, 'subscribe', 'devices/+/temp', true],
    [{ username: undefined, role: 'device' } as Identity, 'publish', 'devices/undefined/x', false],
  ] as const)('%o %s %s → %s', (identity, action, topic, allowed) => {
    expect(aclAllows(identity, action, topic)).toBe(allowed)
  })
})
