import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { loadConfig } from '../../hub/src/config/load.js'
import { OverloadGovernor, PLATEAU_SAMPLES, READ_CHECK_BYTES, RSS_RECLAIM_EVERY_MS, SAMPLE_MS } from '../../hub/src/mqtt/overload-governor.js'

const MB = 1_048_576
const CAP = 100 * MB // high water 70 MB, low water 60 MB

function governor(capBytes = CAP): { gov: OverloadGovernor, clock: ManualClock, set: (inUseMb: number, heapFreeMb?: number) => void, changes: boolean[], reclaims: () => number, looks: () => number } {
  const clock = new ManualClock()
  let memory = { rssBytes: 10 * MB, heapFreeBytes: 0 }
  const changes: boolean[] = []
  let reclaims = 0
  let looks = 0
  const gov = new OverloadGovernor({
    capBytes, clock, log: silentLogger(),
    readMemory: () => { looks++; return memory },
    reclaim: () => { reclaims++ },
    onChange: (active) => changes.push(active),
  })
  gov.start()
  return { gov, clock, set: (inUseMb, heapFreeMb = 0) => { memory = { rssBytes: (inUseMb + heapFreeMb) * MB, heapFreeBytes: heapFreeMb * MB } }, changes, reclaims: () => reclaims, looks: () => looks }
}

describe('OverloadGovernor', () => {
  it('is off with a cap of 0: never samples, never active', () => {
    const { gov, clock, set, changes } = governor(0)
    set(10_000)
    clock.advance(10 * SAMPLE_MS)
    expect(gov.active).toBe(false)
    expect(changes).toEqual([])
    expect(clock.pending).toBe(0)
  })

  it.each([
    // [memory in use MB, then, expected active after each]
    ['stays off below high water', [69, 65, 69], [false, false, false]],
    ['turns on at high water', [69, 70], [false, true]],
    ['stays on between the marks (hysteresis)', [80, 65, 61, 65], [true, true, true, true]],
    ['turns off below low water', [80, 65, 59], [true, true, false]],
    ['turns on again at high water only', [80, 55, 65, 69, 70], [true, false, false, false, true]],
  ] as const)('%s', (_name, inUse, expected) => {
    const { gov, clock, set } = governor()
    const seen: boolean[] = []
    for (const mb of inUse) {
      set(mb)
      clock.advance(SAMPLE_MS)
      seen.push(gov.active)
    }
    expect(seen).toEqual(expected)
  })

  it('judges memory in use: RSS less the free heap V8 keeps', () => {
    const { gov, clock, set } = governor()
    set(60, 40) // RSS 100 MB, of which 40 free heap
    clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(false)
    expect(gov.stats.peakRssBytes).toBe(100 * MB)
  })

  it('collects garbage (no episode) when RSS nears the cap with most of it free heap, at most once a second', () => {
    const { gov, clock, set, changes, reclaims } = governor()
    set(60, 24) // RSS 84 MB: below 85 % of the cap
    clock.advance(SAMPLE_MS)
    expect(reclaims()).toBe(0)
    set(60, 26) // RSS 86 MB, 60 in use: collect, shed nothing
    clock.advance(SAMPLE_MS)
    expect(reclaims()).toBe(1)
    expect(gov.active).toBe(false)
    expect(changes).toEqual([])
    clock.advance(SAMPLE_MS * 5)
    expect(reclaims(), 'not again within a second').toBe(1)
    clock.advance(RSS_RECLAIM_EVERY_MS)
    expect(reclaims()).toBe(2)
    expect(gov.stats.episodes).toBe(0)
  })

  it('reclaims when an episode starts, and ends an episode that settles between the marks', () => {
    const { gov, clock, set, changes, reclaims } = governor()
    set(90)
    clock.advance(SAMPLE_MS)
    expect(reclaims()).toBe(1)
    set(65) // falls, then stays: no new low for PLATEAU_SAMPLES samples
    for (let i = 0; i <= PLATEAU_SAMPLES; i++) clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(false)
    expect(changes).toEqual([true, false])
  })

  it('collects garbage once at a plateau above high water before it lets go', () => {
    const { gov, clock, set, reclaims } = governor()
    set(90)
    clock.advance(SAMPLE_MS)
    for (let i = 0; i < PLATEAU_SAMPLES; i++) clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(true)
    expect(reclaims()).toBe(2)
    for (let i = 0; i < PLATEAU_SAMPLES; i++) clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(false)
    expect(reclaims()).toBe(2)
  })

  it('collects free heap near the cap while overloaded too, at most once a second', () => {
    const { gov, clock, set, reclaims } = governor()
    set(80) // in use above high water: an episode, collected as it starts
    clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(true)
    expect(reclaims()).toBe(1)
    // Falling slowly (no plateau), RSS 93-95 of 100 with 15 MB of it free heap.
    let inUse = 80
    const samples = (n: number, freeMb: number): void => {
      for (let i = 0; i < n; i++) { inUse -= 0.1; set(inUse, freeMb); clock.advance(SAMPLE_MS) }
    }
    samples(5, 15)
    expect(reclaims(), 'not within a second of the last').toBe(1)
    samples(5, 15)
    expect(gov.active).toBe(true)
    expect(reclaims(), 'once more, a second after it').toBe(2)
    samples(15, 2) // little free heap: collecting gives nothing back
    expect(gov.active).toBe(true)
    expect(reclaims()).toBe(2)
  })

  it('looks at memory every READ_CHECK_BYTES read between two timer samples, and starts an episode there at high water', () => {
    const { gov, clock, set, changes, looks } = governor()
    set(60)
    const before = looks()
    gov.noteRead(READ_CHECK_BYTES - 1)
    expect(looks(), 'not before the budget is read').toBe(before)
    gov.noteRead(1)
    expect(looks()).toBe(before + 1)
    expect(gov.active).toBe(false)
    // A timer sample starts the count again.
    gov.noteRead(READ_CHECK_BYTES / 2)
    clock.advance(SAMPLE_MS)
    gov.noteRead(READ_CHECK_BYTES / 2)
    expect(looks()).toBe(before + 2)
    // Memory jumps within one turn of reads: the next look starts the episode, no timer needed.
    set(90)
    for (let i = 0; i < 4; i++) gov.noteRead(READ_CHECK_BYTES / 4)
    expect(gov.active).toBe(true)
    expect(changes).toEqual([true])
    expect(gov.stats).toMatchObject({ episodes: 1, episodesSeenOnRead: 1, readChecks: 2 })
    // While overloaded, reads do not judge: the end is the timer's.
    const during = looks()
    gov.noteRead(10 * READ_CHECK_BYTES)
    expect(looks()).toBe(during)
    set(50)
    clock.advance(SAMPLE_MS)
    expect(gov.active).toBe(false)
  })

  it('leaves the next episode to the timer after one that ended at a plateau still at high water', () => {
    const { gov, clock, set, looks } = governor()
    set(90)
    clock.advance(SAMPLE_MS)
    for (let i = 0; i < 2 * PLATEAU_SAMPLES; i++) clock.advance(SAMPLE_MS)
    expect(gov.active, 'ended: stopped falling after a collection').toBe(false)
    const before = looks()
    gov.noteRead(4 * READ_CHECK_BYTES)
    expect(looks(), 'reads do not start it again at once').toBe(before)
    expect(gov.active).toBe(false)
    clock.advance(SAMPLE_MS)
    expect(gov.active, 'the timer does').toBe(true)
    expect(gov.stats.episodesSeenOnRead).toBe(0)
  })

  it('counts episodes, time overloaded and what was shed, in total and per episode', () => {
    const { gov, clock, set } = governor()
    set(80)
    clock.advance(SAMPLE_MS)
    gov.shed('qos0-dropped')
    gov.shed('qos0-dropped')
    gov.shed('connect-refused')
    clock.advance(5 * SAMPLE_MS)
    set(50)
    clock.advance(SAMPLE_MS)
    set(80)
    clock.advance(SAMPLE_MS)
    gov.shed('read-paused')
    const stats = gov.stats
    expect(stats.episodes).toBe(2)
    expect(stats.shed).toEqual({ 'qos0-dropped': 2, 'connect-refused': 1, 'read-paused': 1 })
    expect(stats.activeMs).toBe(6 * SAMPLE_MS)
    gov.stop()
    expect(clock.pending).toBe(0)
  })
})

describe('maxRssMb option', () => {
  it.each([
    ['0', 0], ['64', 64], ['2048', 2048],
  ] as const)('takes --max-rss-mb %s', (raw, want) => {
    expect(loadConfig({ argv: ['--max-rss-mb', raw], overrides: { id: 'h', data: '/tmp/x' } }).maxRssMb).toBe(want)
  })

  it.each([
    ['10', /below 64 MiB/], ['-1', /out of range/], ['abc', /not an integer/], ['2000000', /out of range/],
  ] as const)('refuses --max-rss-mb %s with a clear error', (raw, why) => {
    expect(() => loadConfig({ argv: ['--max-rss-mb', raw], overrides: { id: 'h', data: '/tmp/x' } })).toThrow(why)
  })
})
