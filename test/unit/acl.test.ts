import { describe, expect, it } from 'vitest'
import { aclAllows, ownResumeTopic, type Identity } from '../../hub/src/mqtt/acl.js'

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

describe('resume topics ($ringhub/resume/<clientId>/req|res)', () => {
  it.each([
    ['d42', 'publish', '$ringhub/resume/d42/req', true],
    ['d42', 'subscribe', '$ringhub/resume/d42/res', true],
    ['d42', 'publish', '$ringhub/resume/d42/res', false],
    ['d42', 'subscribe', '$ringhub/resume/d42/req', false],
    ['d42', 'subscribe', '$ringhub/resume/d43/res', false],
    ['d42', 'subscribe', '$ringhub/resume/+/res', false],
    ['d42', 'subscribe', '$ringhub/resume/#', false],
    ['d42:agent', 'subscribe', '$ringhub/resume/d42:agent/res', true],
    ['+', 'subscribe', '$ringhub/resume/+/res', false],
    ['#', 'publish', '$ringhub/resume/#/req', false],
  ] as const)('client %s %s %s → %s', (clientId, action, topic, allowed) => {
    expect(ownResumeTopic(clientId, action, topic)).toBe(allowed)
  })
})
