import { describe, expect, it } from 'vitest'
import type { Clock, TimerHandle } from '../../hub/src/base/clock.js'
import { StallWatch } from '../../hub/src/base/stall-watch.js'

/** A clock whose time moves only when the test says, without firing timers: a stopped process. */
function stoppableClock(): { clock: Clock, move(ms: number): void, tick(): void, intervals: number } {
  let now = 0
  let interval: (() => void) | undefined
  const handle = { unref: () => handle } as unknown as TimerHandle
  const state = {
    clock: {
      now: () => now, monotonicMs: () => now,
      setTimeout: () => handle, clearTimeout: () => {},
      setInterval: (fn: () => void) => { interval = fn; state.intervals++; return handle },
      clearInterval: () => { interval = undefined },
    } satisfies Clock,
    move: (ms: number) => { now += ms },
    tick: () => interval?.(),
    intervals: 0,
  }
  return state
}

describe('stall watch: a process that did not run for a while notices it once', () => {
  it('reports nothing while it runs every probe, however long it runs', () => {
    const c = stoppableClock()
    const stalls: number[] = []
    const watch = new StallWatch({ clock: c.clock, stallMs: 700, onStall: (gap) => stalls.push(gap) })
    watch.start()
    for (let i = 0; i < 1_000; i++) { c.move(100); c.tick() }
    expect(stalls).toEqual([])
  })

  it('reports a gap longer than the threshold once, to whichever looks first: the numbering path or the timer', () => {
    const c = stoppableClock()
    const stalls: number[] = []
    const watch = new StallWatch({ clock: c.clock, stallMs: 700, onStall: (gap) => stalls.push(gap) })
    watch.start()
    c.move(15_000) // SIGSTOP … SIGCONT
    watch.check() // a publish arrives before the timer runs
    c.tick()
    expect(stalls).toEqual([15_000])
    c.move(701)
    c.tick() // the timer looks first this time
    watch.check()
    expect(stalls).toEqual([15_000, 701])
  })

  it('a gap at the threshold is no stall; stop ends the ticking', () => {
    const c = stoppableClock()
    const stalls: number[] = []
    const watch = new StallWatch({ clock: c.clock, stallMs: 700, onStall: (gap) => stalls.push(gap) })
    watch.start()
    c.move(700)
    c.tick()
    expect(stalls).toEqual([])
    watch.stop()
    c.move(5_000)
    c.tick()
    expect(stalls).toEqual([])
    expect(c.intervals).toBe(1)
  })

  it('counts the time the process did not run, open gap included, and not the ticks of a running one', () => {
    const c = stoppableClock()
    const watch = new StallWatch({ clock: c.clock, stallMs: 700, probeMs: 100, onStall: () => {} })
    watch.start()
    for (let i = 0; i < 50; i++) { c.move(100); c.tick() }
    c.move(400) // a late tick (a busy loop): not a pause
    c.tick()
    expect(watch.pausedMs).toBe(0)
    c.move(15_000) // SIGSTOP … SIGCONT, before any look
    expect(watch.pausedMs, 'the open gap, less one probe').toBe(14_900)
    c.tick()
    expect(watch.pausedMs).toBe(14_900)
    c.move(100)
    c.tick()
    expect(watch.pausedMs, 'it only grows').toBe(14_900)
  })
})
