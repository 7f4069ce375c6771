import { describe, expect, it } from 'vitest'
import { encodePacket } from '../../hub/src/membership/codec.js'
import {
  EDGE_PROFILE, LAN_PROFILE, PROFILES, detectionEstimate, disseminationRounds, pushPullScaleMs, steadyStateBytesPerSecond,
} from '../../hub/src/membership/profiles.js'

describe('profiles', () => {
  it('lan is memberlist DefaultLANConfig', () => {
    expect(LAN_PROFILE).toMatchObject({
      probeIntervalMs: 1000, probeTimeoutMs: 500, indirectChecks: 3, retransmitMult: 4, suspicionMult: 4,
      suspicionMaxTimeoutMult: 6, gossipIntervalMs: 200, gossipNodes: 3, gossipToTheDeadMs: 30_000,
      pushPullIntervalMs: 30_000, tcpTimeoutMs: 10_000, awarenessMaxMultiplier: 8, udpPacketBytes: 1400,
    })
  })

  it('both profiles set the same fields, and are frozen', () => {
    expect(Object.keys(EDGE_PROFILE).sort()).toEqual(Object.keys(LAN_PROFILE).sort())
    expect(Object.isFrozen(LAN_PROFILE) && Object.isFrozen(EDGE_PROFILE)).toBe(true)
    expect(PROFILES).toEqual({ lan: LAN_PROFILE, edge: EDGE_PROFILE })
  })

  it('probe timeouts fit in the probe interval, with room for the indirect round', () => {
    for (const profile of [LAN_PROFILE, EDGE_PROFILE]) {
      expect(profile.probeTimeoutMs * 2).toBeLessThanOrEqual(profile.probeIntervalMs)
    }
  })
})

describe('detectionEstimate', () => {
  it.each([
    // profile, n, first probe, probe, suspicion, dissemination, total, max suspicion
    ['lan', 3, 1000, 1000, 4000, 200, 6200, 24_000],
    ['lan', 5, 1000, 1000, 4000, 400, 6400, 24_000],
    ['lan', 10, 1000, 1000, 4000, 400, 6400, 24_000],
    ['lan', 100, 1000, 1000, 8000, 800, 10_800, 48_000],
    ['lan', 1000, 1000, 1000, 12_000, 1000, 15_000, 72_000],
    ['edge', 2, 200, 200, 600, 50, 1050, 3600],
    ['edge', 3, 200, 200, 600, 50, 1050, 3600],
    ['edge', 5, 200, 200, 600, 100, 1100, 3600],
    ['edge', 10, 200, 200, 600, 100, 1100, 3600],
    ['edge', 100, 200, 200, 1200, 200, 1800, 7200],
    ['edge', 1000, 200, 200, 1800, 250, 2450, 10_800],
  ] as const)('%s, N=%i: %i + %i + %i + %i = %i ms (max suspicion %i)', (name, n, firstProbeMs, probeMs, suspicionMs, disseminationMs, totalMs, maxSuspicionMs) => {
    expect(detectionEstimate(PROFILES[name], n)).toEqual({ firstProbeMs, probeMs, suspicionMs, disseminationMs, totalMs, maxSuspicionMs })
  })

  it('edge meets its goal: dead everywhere within 2 s for N ≤ 10', () => {
    for (let n = 2; n <= 10; n++) expect(detectionEstimate(EDGE_PROFILE, n).totalMs).toBeLessThanOrEqual(2000)
  })
})

describe('disseminationRounds', () => {
  it.each([
    [0, 3, 0],
    [1, 3, 0],
    [2, 3, 1],
    [4, 3, 1],
    [5, 3, 2],
    [16, 3, 2],
    [17, 3, 3],
    [1000, 3, 5],
    [1000, 1, 10],
    [5, 0, Number.POSITIVE_INFINITY],
  ])('n=%i fan-out=%i → %i rounds', (n, fanOut, rounds) => {
    expect(disseminationRounds(n, fanOut)).toBe(rounds)
  })
})

describe('pushPullScaleMs', () => {
  // memberlist util_test.go TestPushPullScale
  it.each([
    [0, 1000], [1, 1000], [32, 1000],
    [33, 2000], [64, 2000],
    [65, 3000], [128, 3000],
    [129, 4000], [1000, 6000],
  ])('n=%i → %i ms', (n, expected) => {
    expect(pushPullScaleMs(1000, n)).toBe(expected)
  })
})

describe('steadyStateBytesPerSecond', () => {
  const sizes = { pingBytes: 40, ackBytes: 10, pushPullMemberBytes: 100 }

  it.each([
    ['lan', 1, 0],
    ['lan', 3, 50 + 2 * 3 * 100 / 30],
    ['lan', 10, 50 + 2 * 10 * 100 / 30],
    ['lan', 64, 50 + 2 * 64 * 100 / 60],
    ['edge', 10, 250 + 2 * 10 * 100 / 10],
  ] as const)('%s, N=%i → %d B/s', (name, n, expected) => {
    expect(steadyStateBytesPerSecond(PROFILES[name], n, sizes)).toBeCloseTo(expected, 6)
  })

  it('with real packet sizes stays small for a 10-hub edge ring', () => {
    const addresses = { gossip: '192.168.10.21:7946', mqtt: '192.168.10.21:1883', admin: '192.168.10.21:8080', interHub: '192.168.10.21:7947' }
    const meta = { version: '0.1.0', role: 'hub' as const }
    const member = (i: number) => ({ id: `hub-${i}`, incarnation: 12, state: 'alive' as const, addresses, meta })
    const pushPull = (n: number) => encodePacket({ type: 'push-pull', join: false, members: Array.from({ length: n }, (_, i) => member(i)) }).byteLength
    const real = {
      pingBytes: encodePacket({ type: 'ping', seq: 123_456, target: 'hub-2', from: 'hub-1', fromAddr: addresses.gossip }).byteLength + 29,
      ackBytes: encodePacket({ type: 'ack', seq: 123_456 }).byteLength + 29,
      pushPullMemberBytes: pushPull(2) - pushPull(1),
    }
    expect(real.pingBytes).toBeLessThan(100)
    expect(real.pushPullMemberBytes).toBeLessThan(250)
    expect(steadyStateBytesPerSecond(EDGE_PROFILE, 10, real)).toBeLessThan(1500)
    expect(steadyStateBytesPerSecond(LAN_PROFILE, 10, real)).toBeLessThan(300)
  })
})
