import { describe, expect, it } from 'vitest'
import type { Subscriber } from '../../hub/src/admin/admin-ws.js'
import { STATS_CATCH_UP_MS, statsFeed, type StatsAsk } from '../../hub/src/admin/stats-feed.js'
import { FEED_PERIOD_MS } from '../../hub/src/admin/ws-channels.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { AdminServerFrame, HubStatsPoint } from '../../hub/src/contract/admin-api.js'
import { seededRng } from '../../device-agent/src/base/rng.js'

// The `stats` channel carries every hub's 1 s points, each once, although the feed's period and
// the hubs' sampling are not in step and the hubs' clocks differ (the UI's drops chart compares
// its lines with the stats: a point the stream skipped was a line that never matched).

function point(hub: string, tsMs: number, drops = 0, intervalMs = 1_000): HubStatsPoint {
  return { hub, tsMs, intervalMs, connections: 0, msgsInPerS: 0, msgsOutPerS: 0, interHubBytesInPerS: 0, interHubBytesOutPerS: 0, drops, storeLagMs: 0 }
}

interface Setup {
  clock: ManualClock
  /** Every point the hubs hold, each stamped by its hub's clock. */
  stored: HubStatsPoint[]
  /** Hubs that do not answer; hubs from before `lookBackMs` (they answer from the start). */
  silent: Set<string>
  legacy: Set<string>
  /** Each hub's clock minus this hub's. */
  offsets: Map<string, number>
  /** What hub b was asked, each time. */
  asked: StatsAsk[]
  feed: ReturnType<typeof statsFeed>
  subscribe: () => HubStatsPoint[][]
  tick: (ms?: number) => Promise<void>
}

function setup(): Setup {
  const clock = new ManualClock()
  const stored: HubStatsPoint[] = []
  const silent = new Set<string>()
  const legacy = new Set<string>()
  const offsets = new Map<string, number>()
  const asked: StatsAsk[] = []
  const feed = statsFeed({
    clock, log: silentLogger(), pointsOfRing: (askOf) => {
      const hubs = new Set(stored.map((p) => p.hub))
      const answer: HubStatsPoint[] = []
      for (const hub of hubs) {
        if (silent.has(hub)) continue
        const ask = askOf(hub)
        if (hub === 'b') asked.push(ask)
        const sinceMs = 'sinceMs' in ask ? ask.sinceMs : legacy.has(hub) ? 0 : clock.now() + (offsets.get(hub) ?? 0) - ask.lookBackMs
        answer.push(...stored.filter((p) => p.hub === hub && p.tsMs >= sinceMs))
      }
      return Promise.resolve(answer)
    },
  })
  const subscribe = (): HubStatsPoint[][] => {
    const frames: HubStatsPoint[][] = []
    const sub: Subscriber = { send: (frame: AdminServerFrame) => { if (frame.op === 'stats') frames.push(frame.points) } }
    const { initial } = feed.open(sub)
    if (initial?.op === 'stats') frames.push(initial.points)
    return frames
  }
  const tick = async (ms = FEED_PERIOD_MS): Promise<void> => {
    clock.advance(ms)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { clock, stored, silent, legacy, offsets, asked, feed, subscribe, tick }
}

const ids = (points: readonly HubStatsPoint[]): string[] => points.map((p) => `${p.hub}@${p.tsMs}`)

describe('the stats channel', () => {
  it('sends both points of a hub that sampled twice between two frames, and each point once', async () => {
    const { clock, stored, subscribe, tick } = setup()
    const frames = subscribe()
    const t0 = clock.now()
    stored.push(point('a', t0 + 100), point('b', t0 + 200))
    await tick()
    // Hub a samples at +1.05 s and again at +1.95 s, both before the next frame (+2 s).
    stored.push(point('a', t0 + 1_050, 3), point('b', t0 + 1_200), point('a', t0 + 1_950))
    await tick()
    await tick()
    expect(frames.map((f) => ids(f).sort())).toEqual([[`a@${t0 + 100}`, `b@${t0 + 200}`], [`a@${t0 + 1_050}`, `a@${t0 + 1_950}`, `b@${t0 + 1_200}`]])
  })

  it('over a minute of jittered sampling, on hubs whose clocks are 30 s behind and 20 s ahead, carries every live point exactly once, and no rollup', async () => {
    const seed = 11
    console.log(`jitter seed ${seed}`)
    const rng = seededRng(seed)
    const { clock, stored, offsets, subscribe, tick } = setup()
    offsets.set('b', 20_000).set('c', -30_000)
    const frames = subscribe()
    const hubNow = (hub: string): number => clock.now() + (offsets.get(hub) ?? 0)
    const next = new Map(['a', 'b', 'c'].map((h) => [h, hubNow(h) + Math.floor(rng.next() * 1_000)]))
    for (let ms = 0; ms < 60_000; ms += 100) {
      for (const [hub, at] of next) {
        if (at > hubNow(hub)) continue
        stored.push(point(hub, at, Math.floor(rng.next() * 3)))
        // Every 1 s, give or take 0.4 s (a busy event loop samples late).
        next.set(hub, at + 600 + Math.floor(rng.next() * 800))
      }
      if (ms % 20_000 === 0) stored.push(point('a', Math.floor(clock.now() / 60_000) * 60_000, 40, 60_000))
      await tick(100)
    }
    await tick()
    const sent = frames.flat()
    expect(new Set(ids(sent)).size).toBe(sent.length)
    expect(ids(sent).sort()).toEqual(ids(stored.filter((p) => p.intervalMs < 60_000)).sort())
  })

  it('reaches back 10 s by each hub\'s own clock: for its first frame, for a hub that did not answer for longer, and for a hub that answers from the start', async () => {
    const { clock, stored, silent, legacy, offsets, asked, subscribe, tick } = setup()
    offsets.set('c', -40_000)
    const t0 = clock.now()
    stored.push(point('a', t0 - STATS_CATCH_UP_MS - 500), point('a', t0 - 500))
    // Hub c, 40 s behind and from before lookBackMs: 15 points over its last 15 s.
    legacy.add('c')
    for (let s = 15; s >= 1; s--) stored.push(point('c', t0 - 40_000 - s * 1_000 + 100))
    const frames = subscribe()
    await tick()
    expect(frames[0]?.filter((p) => p.hub === 'a').map((p) => p.tsMs)).toEqual([t0 - 500])
    expect(frames[0]?.filter((p) => p.hub === 'c')).toHaveLength(11)
    // Hub b answers once, then not for 15 s while it keeps sampling; hub a goes on.
    stored.push(point('b', clock.now() - 10))
    await tick()
    expect(asked.at(-1)).toEqual({ lookBackMs: STATS_CATCH_UP_MS })
    await tick()
    expect(asked.at(-1)).toEqual({ sinceMs: clock.now() - 2_010 + 1 })
    silent.add('b')
    for (let s = 1; s <= 15; s++) {
      stored.push(point('a', clock.now() + 10), point('b', clock.now() + 20), point('c', clock.now() - 40_000 + 30))
      await tick()
    }
    silent.delete('b')
    await tick()
    // Its cursor is gone: it is asked for its last 10 s, which come; the older ones do not.
    expect(asked.at(-1)).toEqual({ lookBackMs: STATS_CATCH_UP_MS })
    const bAfter = frames.at(-1)?.filter((p) => p.hub === 'b') ?? []
    expect(bAfter.length).toBeGreaterThanOrEqual(9)
    expect(bAfter.length).toBeLessThanOrEqual(10)
    expect(bAfter.every((p) => p.tsMs >= clock.now() - STATS_CATCH_UP_MS)).toBe(true)
    const sent = frames.flat()
    expect(new Set(ids(sent)).size).toBe(sent.length)
  })

  it('gives a new subscriber what the others were sent in the last 10 s first, then the same frames as theirs', async () => {
    const { clock, stored, subscribe, tick } = setup()
    const first = subscribe()
    for (let s = 0; s < 15; s++) {
      stored.push(point('a', clock.now() + 5))
      await tick()
    }
    const second = subscribe()
    expect(second).toHaveLength(1)
    // The frames of the last 10 s: one a second, both ends of the window in it.
    expect(ids(second[0] ?? [])).toEqual(ids(first.slice(-(STATS_CATCH_UP_MS / FEED_PERIOD_MS + 1)).flat()))
    stored.push(point('a', clock.now() + 5))
    await tick()
    expect(second.at(-1)).toEqual(first.at(-1))
  })
})
