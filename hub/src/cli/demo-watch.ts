import type { Clock, TimerHandle } from '../base/clock.js'
import type { RingMemberState, RingView } from '../contract/ring-view.js'
import { DEMO_HOST, type DemoHub } from './demo-ring.js'

/** How often the terminal's ring line is refreshed from a hub's `GET /api/ring`, ms. */
const WATCH_INTERVAL_MS = 500

/** Lines for the terminal describing how `next` differs from `prev` (state changes, checksum). */
export function ringChanges(prev: RingView | undefined, next: RingView): string[] {
  if (!prev) return []
  const before = new Map<string, RingMemberState>(prev.members.map((m) => [m.id, m.state]))
  const out: string[] = []
  for (const m of next.members) {
    const was = before.get(m.id)
    if (was !== m.state) out.push(`[ring] hub ${m.id}: ${was ?? 'unknown'} → ${m.state} (as hub ${next.self} sees it)`)
  }
  if (prev.checksum !== next.checksum) {
    const owners = next.members.filter((m) => m.share > 0).map((m) => `${m.id} ${(m.share * 100).toFixed(1)}%`)
    out.push(`[ring] ownership moved: checksum ${prev.checksum} → ${next.checksum}; keyspace ${owners.join(', ') || 'owned by nobody'}`)
  }
  return out
}

/**
 * While the demo runs, prints ring events to the terminal as one surviving hub sees them (the
 * first hub still running), so a user who kills a hub watches suspect → dead and the ownership
 * move without opening the UI. Every running hub is read each turn, so when the first hub is the
 * one killed, the next one's earlier view is at hand to compare with. Reading errors are ignored:
 * the next turn asks again.
 */
export function watchRing(hubs: readonly DemoHub[], clock: Clock, print: (line: string) => void): { stop: () => void } {
  const last = new Map<string, RingView>()
  let busy = false
  const read = async (hub: DemoHub): Promise<RingView | undefined> => {
    try {
      const res = await fetch(`http://${DEMO_HOST}:${hub.ports.admin}/api/ring`, { signal: AbortSignal.timeout(1_000) })
      return res.ok ? await res.json() as RingView : undefined
    } catch {
      return undefined
    }
  }
  const turn = async (): Promise<void> => {
    const running = hubs.filter((h) => h.process.running)
    const views = await Promise.all(running.map(read))
    const speaker = running.findIndex((h, i) => h.process.running && views[i] !== undefined)
    running.forEach((h, i) => {
      const view = views[i]
      if (!view) return
      if (i === speaker) for (const line of ringChanges(last.get(h.id), view)) print(line)
      last.set(h.id, view)
    })
  }
  const timer: TimerHandle = clock.setInterval(() => {
    if (busy) return
    busy = true
    void turn().finally(() => { busy = false })
  }, WATCH_INTERVAL_MS)
  return { stop: () => clock.clearInterval(timer) }
}
