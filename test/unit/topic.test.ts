import { describe, expect, it } from 'vitest'
import { topicMatches } from '../../hub/src/ring/topic-match.js'
import { seededRng } from '../../hub/src/base/rng.js'

/** The plain split-based reading of MQTT 3.1.1 §4.7, as the reference for the fast matcher. */
function reference(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && /^[+#]/.test(filter)) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false
  }
  return f.length === t.length
}

/** The hub's seeded mulberry32, as a bare float source. */
const rng = (seed: number): (() => number) => seededRng(seed).next

describe('topicMatches', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    ['a/b/c', 'a/b', false],
    ['a/+', 'a/', true],
    ['a/b/#', 'a/b', true],
    ['a/+/#', 'a/b', true],
    ['+/#', 'a', true],
    ['a/+/b', 'a//b', true],
    ['a/b', 'a/b/', false],
    ['a/+', 'a', false],
    ['a', 'ab', false],
    ['ab', 'a', false],
    ['sport/#', 'sport', true],
    ['sport/#', 'sports', false],
    ['a/b/#', 'a', false],
    ['a//#', 'a/', true],
  ])('%s ~ %s → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected)
  })
})

describe('topicMatches against the reference', () => {
  it('agrees on 20,000 random filter/topic pairs (seed 2026)', () => {
    const next = rng(2026)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T
    const levels = ['a', 'b', 'ab', '', '$SYS', 'x']
    const make = (wild: boolean): string => {
      const n = 1 + Math.floor(next() * 4)
      const parts: string[] = []
      for (let i = 0; i < n; i++) {
        const r = next()
        if (wild && r < 0.15) parts.push('+')
        else if (wild && r < 0.25 && i === n - 1) parts.push('#')
        else parts.push(pick(levels))
      }
      return parts.join('/')
    }
    for (let i = 0; i < 20_000; i++) {
      const filter = make(true)
      const topic = make(false)
      expect(topicMatches(filter, topic), `case ${i}: ${filter} ~ ${topic}`).toBe(reference(filter, topic))
    }
  })
})
