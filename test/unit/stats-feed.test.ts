import { describe, expect, it } from 'vitest'
import type { Subscriber } from '../../hub/src/admin/admin-ws.js'
import { FEED_PERIOD_MS, STATS_CATCH_UP_MS, statsFeed } from '../../hub/src/admin/ws-channels.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import type { AdminServerFrame, HubStatsPoint } from '../../hub/src/contract/admin-api.js'
import { seededRng } from '../../device-agent/src/base/rng.js'

// The `stats` channel carries every hub's 1 s points, each once, although the feed's period and
// the hubs' sampling are not in step (the UI's drops chart compares its lines with the stats:
// a point the stream skipped was a line that never matched).

function point(hub: string, tsMs: number, drops = 0, intervalMs = 1_000): HubStatsPoint {
  return { hub, tsMs, intervalMs, connections: 0, msgsInPerS: 0, msgsOutPerS: 0, interHubBytesInPerS: 0, interHubBytesOutPerS: 0, drops, storeLagMs: 0 }
}

/**
 * A ring of hubs whose points the test adds; a hub in `silent` does not answer. `asked`: where
 * each question to hub b began.
 */
function setup(): { clock: ManualClock, stored: HubStatsPoint[], silent: Set<string>, frames: HubStatsPoint[][], tick: (ms?: number) => Promise<void>, asked: number[] } {
  const clock = new ManualClock()
  const stored: HubStatsPoint[] = []
  const silent = new Set<string>()
  const asked: number[] = []
  const feed = statsFeed({
    clock, log: silentLogger(), pointsOfRing: (sinceOf) => {
      asked.push(sinceOf('b'))
      return Promise.resolve(stored.filter((p) => !silent.has(p.hub) && p.tsMs >= sinceOf(p.hub)))
    },
  })
  const frames: HubStatsPoint[][] = []
  const sub: Subscriber = { send: (frame: AdminServerFrame) => { if (frame.op === 'stats') frames.push(frame.points) } }
  feed.open(sub)
  const tick = async (ms = FEED_PERIOD_MS): Promise<void> => {
    clock.advance(ms)
    await new Promise((resolve) => setImmediate(resolve))
  }
  return { clock, stored, silent, frames, tick, asked }
}

const ids = (points: readonly HubStatsPoint[]): string[] => points.map((p) => `${p.hub}@${p.tsMs}`)

describe('the stats channel', () => {
  it('sends both points of a hub that sampled twice between two frames, and each point once', async () => {
    const { clock, stored, frames, tick } = setup()
    const t0 = clock.now()
    stored.push(point('a', t0 + 100), point('b', t0 + 200))
    await tick()
    // Hub a samples at +1.05 s and again at +1.95 s, both before the next frame (+2 s).
    stored.push(point('a', t0 + 1_050, 3), point('b', t0 + 1_200), point('a', t0 + 1_950))
    await tick()
    await tick()
    expect(frames.map(ids)).toEqual([[`a@${t0 + 100}`, `b@${t0 + 200}`], [`a@${t0 + 1_050}`, `b@${t0 + 1_200}`, `a@${t0 + 1_950}`]])
  })

  it('over a minute of jittered sampling carries every live point exactly once, and no rollup', async () => {
    const seed = 11
    console.log(`jitter seed ${seed}`)
    const rng = seededRng(seed)
    const { clock, stored, frames, tick } = setup()
    const t0 = clock.now()
    const next = new Map(['a', 'b', 'c'].map((h) => [h, t0 + Math.floor(rng.next() * 1_000)]))
    for (let ms = 0; ms < 60_000; ms += 100) {
      for (const [hub, at] of next) {
        if (at > clock.now()) continue
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

  it('looks back no further than the catch-up window: for its first frame, and for a hub that did not answer', async () => {
    const { clock, stored, silent, frames, tick, asked } = setup()
    const t0 = clock.now()
    stored.push(point('a', t0 - STATS_CATCH_UP_MS - 500), point('a', t0 - 500))
    await tick()
    expect(frames.map(ids)).toEqual([[`a@${t0 - 500}`]])
    // Hub b answers once, then not for 15 s while it keeps sampling; hub a goes on.
    stored.push(point('b', clock.now() - 10))
    await tick()
    silent.add('b')
    for (let s = 1; s <= 15; s++) {
      stored.push(point('a', clock.now() + 10), point('b', clock.now() + 20))
      await tick()
    }
    // The question to b never reaches back past the window, although its last point sent is older.
    expect(asked.at(-1)).toBe(clock.now() - STATS_CATCH_UP_MS)
    silent.delete('b')
    await tick()
    const bAfter = frames.at(-1)?.filter((p) => p.hub === 'b') ?? []
    // Its points of the last 10 s come, the older ones do not (GET /api/v1/stats has them).
    expect(bAfter.length).toBeGreaterThanOrEqual(9)
    expect(bAfter.length).toBeLessThanOrEqual(10)
    expect(bAfter.every((p) => p.tsMs >= clock.now() - STATS_CATCH_UP_MS)).toBe(true)
    const sent = frames.flat()
    expect(new Set(ids(sent)).size).toBe(sent.length)
  })
})
