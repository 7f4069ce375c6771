import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../hub/src/base/errors.js'
import { seededRng } from '../../hub/src/base/rng.js'
import { topicMatches } from '../../hub/src/ring/topic-match.js'
import { classifyFilter, keyOf, type FilterClass } from '../../hub/src/ring/keys.js'

describe('keyOf', () => {
  it.each<[string, number, string | null]>([
    ['devices/d42/telemetry/temp', 2, 'devices/d42'],
    ['devices/d42/cmd', 2, 'devices/d42'],
    ['devices/d42', 2, 'devices/d42'],
    ['devices/d42/', 2, 'devices/d42'],
    ['devices', 2, 'devices'], // fewer levels than keyDepth: the whole topic
    ['devices/', 2, 'devices/'],
    ['', 2, ''],
    ['/finance', 2, '/finance'],
    ['/a/b', 2, '/a'],
    ['a//b', 2, 'a/'],
    ['a/b/c', 1, 'a'],
    ['a/b/c', 3, 'a/b/c'],
    ['a/b/c/d', 3, 'a/b/c'],
    ['$SYS/broker/uptime', 2, null], // server-specific: local, no owner
    ['$SYS', 2, null],
    ['$other/x/y', 1, null],
    ['devices/$SYS/x', 2, 'devices/$SYS'], // only a leading $ makes a topic local
    ['zone ü/d1/t', 2, 'zone ü/d1'],
  ])('%s (depth %i) → %s', (topic, depth, expected) => {
    expect(keyOf(topic, depth)).toBe(expected)
  })

  it('defaults to depth 2', () => {
    expect(keyOf('devices/d42/telemetry/temp')).toBe('devices/d42')
  })

  it.each([0, -1, 1.5, Number.NaN])('rejects keyDepth %s', (depth) => {
    expect(() => keyOf('a/b', depth)).toThrow(ConfigError)
    expect(() => classifyFilter('a/b', depth)).toThrow(ConfigError)
  })
})

describe('classifyFilter', () => {
  const keyed = (key: string): FilterClass => ({ kind: 'keyed', key })
  const global: FilterClass = { kind: 'global' }
  const local: FilterClass = { kind: 'local' }

  it.each<[string, number, FilterClass]>([
    ['devices/d42/#', 2, keyed('devices/d42')],
    ['devices/d42', 2, keyed('devices/d42')],
    ['devices/d42/+/temp', 2, keyed('devices/d42')],
    ['devices/d42/telemetry/temp', 2, keyed('devices/d42')],
    ['devices', 2, keyed('devices')], // matches only the topic "devices", whose key it is
    ['/x/#', 2, keyed('/x')],
    ['devices/+/temp', 2, global],
    ['devices/#', 2, global],
    ['devices/+', 2, global],
    ['+/d42/temp', 2, global],
    ['#', 2, global],
    ['+', 2, global],
    ['/+', 2, global],
    ['devices/d4+', 2, global], // invalid, but never misfiled as keyed
    ['a/b/#', 3, global],
    ['a/b/c/#', 3, keyed('a/b/c')],
    ['a/#', 1, keyed('a')],
    ['#', 1, global],
    ['$SYS/#', 2, local],
    ['$SYS/broker/uptime', 2, local],
  ])('%s (depth %i) → %j', (filter, depth, expected) => {
    expect(classifyFilter(filter, depth)).toEqual(expected)
  })

  // The point of a keyed filter: every topic it can match has the filter's key, so registering
  // interest with that key's owner alone misses nothing.
  it('every topic a keyed filter matches has its key (seeded random topics and filters)', () => {
    const seed = 0x5eed
    const rng = seededRng(seed)
    const levels = ['a', 'b', '', '$x']
    const pick = (from: readonly string[]): string => from[rng.int(from.length)] as string
    const topic = (): string => Array.from({ length: 1 + rng.int(4) }, () => pick(levels)).join('/')
    const filter = (): string => {
      const parts = Array.from({ length: 1 + rng.int(4) }, () => pick([...levels, '+']))
      if (rng.next() < 0.3) parts.push('#')
      return parts.join('/')
    }
    // Half the topics are instances of the filter, so that many pairs match.
    const instance = (f: string): string => f.split('/').flatMap((level) =>
      level === '+' ? [pick(levels)] : level === '#' ? Array.from({ length: rng.int(3) }, () => pick(levels)) : [level],
    ).join('/')
    let checked = 0
    for (let i = 0; i < 20_000; i++) {
      const f = filter()
      const t = rng.next() < 0.5 ? instance(f) : topic()
      const depth = 1 + rng.int(3)
      const c = classifyFilter(f, depth)
      if (c.kind !== 'keyed' || !topicMatches(f, t)) continue
      checked++
      expect(keyOf(t, depth), `seed ${seed}: filter ${f} topic ${t} depth ${depth}`).toBe(c.key)
    }
    expect(checked).toBeGreaterThan(2000)
  })
})
