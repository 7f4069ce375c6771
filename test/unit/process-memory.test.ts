import { describe, expect, it } from 'vitest'
import { processMemory } from '../../hub/src/base/process-memory.js'

describe('processMemory().reclaim', () => {
  it('runs a full collection: garbage in the old space is freed at once', () => {
    const memory = processMemory()
    const keep: object[] = []
    let junk: object[] = []
    // About 100 MB of small objects, survivors of young collections (old space), 90 % garbage.
    for (let i = 0; i < 700_000; i++) {
      const o = { topic: `devices/d${i % 5000}/t`, n: i, s: 'x'.repeat(20 + (i % 40)) }
      if (i % 10 === 0) keep.push(o)
      else junk.push(o)
    }
    junk = []
    const used = (): number => process.memoryUsage().heapUsed
    const before = used()
    memory.reclaim()
    const after = used()
    console.log(`heap used before reclaim ${Math.round(before / 1_048_576)} MB, after ${Math.round(after / 1_048_576)} MB`)
    expect(junk).toHaveLength(0)
    expect(keep).toHaveLength(70_000)
    expect(after, 'most of it was garbage').toBeLessThan(before * 0.5)
  })
})
