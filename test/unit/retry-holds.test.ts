import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { originOf } from '../../hub/src/routing/ingress.js'
import { RetryHolds } from '../../hub/src/routing/retry-holds.js'

/** Whether `p` has settled, after the microtasks queued so far. */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
  if (!p) return true
  let done = false
  void p.then(() => { done = true })
  await Promise.resolve()
  await Promise.resolve()
  return done
}

describe('RetryHolds (a key numbers in line while its owner waits for retries)', () => {
  it('lets nothing through before the retries of the held messages, which take their first places', async () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    expect(holds.turn('k', 'x', 1, undefined), 'nothing held: at once').toBeUndefined()
    // Held out of arrival order (a copy failure reported after a later refusal): arrival decides.
    expect(holds.hold('k', 'b', 'h2', 8, undefined)).toBe(true)
    expect(holds.hold('k', 'a', 'h2', 7, undefined)).toBe(true)
    expect(holds.hold('k', 'a', 'h2', 9, undefined), 'held again: keeps its first place').toBe(false)
    expect(holds.turn('other', 'x', 10, undefined), 'other keys do not wait').toBeUndefined()
    expect(holds.turn('k', 'x', 5, undefined), 'arrived before every held message').toBeUndefined()
    const later = holds.turn('k', 'x', 10, undefined)
    const local = holds.turn('k', undefined, 11, undefined)
    const b = holds.turn('k', 'b', 12, undefined) // b's retry: its place is 8, after a's 7
    expect(later).toBeDefined()
    expect(local, 'a local first attempt (no id) waits too').toBeDefined()
    expect(b).toBeDefined()
    expect(holds.turn('k', 'a', 13, undefined), 'a\'s retry goes, in its first place').toBeUndefined()
    holds.released('k', 'a')
    expect(await settled(later), 'woken to check again').toBe(true)
    expect(holds.turn('k', 'x', 10, undefined), 'b is still held before it').toBeDefined()
    expect(holds.turn('k', 'b', 12, undefined)).toBeUndefined()
    holds.released('k', 'b')
    // x (10) goes before the local message (11), which waits until x has gone.
    expect(holds.turn('k', undefined, 11, undefined)).toBeDefined()
    expect(holds.turn('k', 'x', 10, undefined)).toBeUndefined()
    expect(holds.turn('k', undefined, 11, undefined)).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('ends the holds of a run\'s publishes its ingress says it has finished, and wakes what waited behind them; a retry being answered keeps its hold', async () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    holds.hold('k', 'h2:r:10', 'h2', 1, originOf('h2:r:10'))
    holds.hold('k', 'h2:r:11', 'h2', 2, originOf('h2:r:11'))
    holds.hold('k', 'h1:r:3', 'h1', 3, originOf('h1:r:3'))
    const other = holds.turn('k', 'h3:r:1', 4, originOf('h3:r:1'))
    expect(other).toBeDefined()
    expect(holds.finishedBefore('k', 'h2:r', 11), '10 was answered by another owner').toBe(1)
    expect(await settled(other), 'woken to check again').toBe(true)
    expect(holds.turn('k', 'h3:r:1', 4, originOf('h3:r:1')), '11 and h1\'s 3 are still held').toBeDefined()
    expect(holds.finishedBefore('k', 'h2:r', 11), 'nothing before 11 is held any more').toBe(0)
    expect(holds.finishedBefore('k', 'h1:r', 3), '3 itself is not finished').toBe(0)
    expect(holds.finishedBefore('other', 'h1:r', 100), 'another key').toBe(0)
    holds.enter('k', 5, 'h2:r:11', originOf('h2:r:11')) // 11's retry is being answered
    expect(holds.finishedBefore('k', 'h2:r', 12), 'the retry being answered keeps its hold').toBe(0)
    holds.leave('k', 5) // answered: its hold ends with it, or by time, or as finished
    expect(holds.finishedBefore('k', 'h2:r', 12), 'not entered any more: finished').toBe(1)
    expect(holds.turn('k', 'h3:r:1', 4, originOf('h3:r:1')), 'h1\'s 3 is still held').toBeDefined()
    expect(holds.finishedBefore('k', 'h1:r', 4)).toBe(1)
    expect(holds.turn('k', 'h3:r:1', 4, originOf('h3:r:1'))).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('keeps a woken message\'s place until it goes or leaves: a newcomer waits behind it', async () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    holds.hold('k', 'a', 'h2', 1, undefined)
    const parked = holds.turn('k', 'x', 2, undefined)
    expect(holds.turn('k', 'a', 3, undefined)).toBeUndefined()
    holds.released('k', 'a') // x is woken, but has not run yet
    expect(await settled(parked)).toBe(true)
    const newcomer = holds.turn('k', 'y', 4, undefined)
    expect(newcomer, 'y arrived after x').toBeDefined()
    holds.leave('k', 2) // x gave up (or was answered otherwise)
    expect(await settled(newcomer)).toBe(true)
    expect(holds.turn('k', 'y', 4, undefined)).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('makes later messages wait behind one being answered over several turns (entered), with no timer; its own turn passes it', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    holds.enter('k', 5, 'r', undefined)
    holds.enter('k', 5, 'r', undefined) // entered again (checked after a take-over): one place
    expect(holds.turn('k', undefined, 4, undefined), 'arrived before it').toBeUndefined()
    const later = holds.turn('k', undefined, 6, undefined)
    expect(later).toBeDefined()
    clock.advance(5_000)
    expect(await settled(later), 'no hold to expire: waits until it leaves').toBe(false)
    expect(holds.turn('k', 'r', 5, undefined), 'numbered anew: its own turn, in its place').toBeUndefined()
    expect(await settled(later), 'woken once it went').toBe(true)
    expect(holds.turn('k', undefined, 6, undefined)).toBeUndefined()
    holds.leave('k', 5) // its answer is through: nothing left
    expect(holds.size).toBe(0)
  })

  it('keeps the hold of a retry being answered (entered) past holdMs and its ingress\'s death, with no timer, until it leaves', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    holds.hold('k', 'a', 'h2', 1, undefined)
    expect(holds.turn('k', 'b', 2, undefined), 'arrived between a\'s first attempt and its retry').toBeDefined()
    holds.enter('k', 3, 'a', undefined) // a's retry, being answered (a take-over may take seconds)
    clock.advance(5_000) // b is woken by the timer set before a's retry came, and checks again
    holds.hubGone('h2')
    const between = holds.turn('k', 'b', 2, undefined)
    expect(between, 'a\'s place is kept while its retry is answered').toBeDefined()
    expect(clock.pending, 'no timer for a hold that cannot end by time').toBe(0)
    expect(holds.turn('k', 'a', 3, undefined), 'the retry goes, in its first place (before b)').toBeUndefined()
    holds.released('k', 'a')
    expect(await settled(between)).toBe(true)
    expect(holds.turn('k', 'b', 2, undefined)).toBeUndefined()
    expect(holds.size).toBe(0)
    // Answered without being numbered (it failed): its hold ends by time as before.
    holds.hold('k', 'c', 'h2', 4, undefined)
    holds.enter('k', 5, 'c', undefined)
    clock.advance(1_500)
    holds.leave('k', 5)
    expect(holds.turn('k', 'd', 6, undefined), 'c\'s hold ended meanwhile').toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('ends a hold after holdMs and when its ingress hub dies', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    holds.hold('k1', 'a', 'h2', 1, undefined)
    holds.hold('k2', 'b', 'h3', 2, undefined)
    holds.hubGone('h3')
    expect(holds.turn('k2', 'x', 9, undefined)).toBeUndefined()
    const waiting = holds.turn('k1', 'x', 9, undefined)
    clock.advance(999)
    expect(await settled(waiting)).toBe(false)
    clock.advance(1)
    expect(await settled(waiting), 'a\'s retry never came: the waiting message goes on').toBe(true)
    expect(holds.turn('k1', 'x', 9, undefined)).toBeUndefined()
    expect(holds.size).toBe(0)
    // Refused again after its hold ended, not yet swept (no turn in between): held anew, for holdMs.
    holds.hold('k3', 'c', 'h2', 10, undefined)
    clock.advance(1_000)
    expect(holds.hold('k3', 'c', 'h2', 10, undefined)).toBe(true)
    clock.advance(999)
    expect(holds.turn('k3', 'y', 11, undefined), 'still held').toBeDefined()
    holds.leave('k3', 11)
  })

  it('puts a message before the later publishes of its own ingress run already in line, whatever its arrival here', async () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    const from = (n: number): { source: string, n: number } => ({ source: 'h1:run', n })
    // 458 and 459 were refused in a failed take-over and kept; 457, refused before that without a
    // kept place, comes back as a retry that arrived after them (isolate fault test, at a heal).
    holds.hold('k', 'h1:run:458', 'h1', 10, from(458))
    holds.hold('k', 'h1:run:459', 'h1', 11, from(459))
    const other = holds.turn('k', 'h2:run:7', 12, { source: 'h2:run', n: 7 })
    expect(other, 'another ingress\'s message arrived after them: it waits').toBeDefined()
    expect(holds.turn('k', 'h1:run:457', 13, from(457)), '457 goes first').toBeUndefined()
    // A second of the run's earlier publishes, arriving later still, goes before them too.
    expect(holds.turn('k', 'h1:run:456', 14, from(456)), 'nothing of its run before it is waiting').toBeUndefined()
    expect(holds.turn('k', 'h1:run:460', 15, from(460)), 'a later publish of the run waits behind 458 and 459').toBeDefined()
    expect(holds.turn('k', 'h1:run:459', 16, from(459)), '459 waits for 458').toBeDefined()
    expect(holds.turn('k', 'h1:run:458', 17, from(458))).toBeUndefined()
    holds.released('k', 'h1:run:458')
    expect(holds.turn('k', 'h1:run:459', 16, from(459))).toBeUndefined()
    holds.released('k', 'h1:run:459')
    expect(await settled(other)).toBe(true)
    expect(holds.turn('k', 'h1:run:460', 15, from(460)), 'h2\'s message (12) first').toBeDefined()
    expect(holds.turn('k', 'h2:run:7', 12, { source: 'h2:run', n: 7 })).toBeUndefined()
    expect(holds.turn('k', 'h1:run:460', 15, from(460))).toBeUndefined()
    expect(holds.size).toBe(0)
  })

  it('never puts a message before an earlier publish of its run already in line, even when held with an older arrival', () => {
    const holds = new RetryHolds({ clock: new ManualClock(), holdMs: 10_000 })
    const from = (n: number): { source: string, n: number } => ({ source: 'h1:run', n })
    holds.hold('k', 'h2:run:1', 'h2', 1, { source: 'h2:run', n: 1 })
    expect(holds.turn('k', 'h1:run:457', 5, from(457)), '457\'s retry waits behind h2\'s message').toBeDefined()
    // 458 was numbered at arrival 3, before 457's retry came; its copies fail only now.
    holds.hold('k', 'h1:run:458', 'h1', 3, from(458))
    holds.released('k', 'h2:run:1')
    expect(holds.turn('k', 'h1:run:458', 9, from(458)), '458\'s retry waits for 457').toBeDefined()
    expect(holds.turn('k', 'h1:run:457', 5, from(457))).toBeUndefined()
  })

  it('gives a message one place, held and waiting: no two messages wait for each other', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    const s = (n: number): { source: string, n: number } => ({ source: 'h1:run', n })
    const q = { source: 'h2:run', n: 5 }
    holds.hold('k', 'h1:run:460', 'h1', 1, s(460))
    holds.hold('k', 'h2:run:5', 'h2', 2, q)
    expect(holds.turn('k', 'h1:run:458', 3, s(458)), '458 goes before its run\'s 460, and so before h2\'s').toBeUndefined()
    holds.enter('k', 7, 'h1:run:458', s(458)) // 458's retry, being answered
    holds.released('k', 'h1:run:460')
    holds.hold('k', 'h1:run:458', 'h1', 3, s(458)) // its first copies failed, reported late
    const waiting = holds.turn('k', 'h2:run:5', 9, q)
    expect(waiting, 'h2\'s retry waits behind 458').toBeDefined()
    expect(holds.turn('k', 'h1:run:458', 7, s(458)), '458, numbered anew, does not wait for it').toBeUndefined()
    holds.released('k', 'h1:run:458')
    expect(await settled(waiting)).toBe(true)
    expect(holds.turn('k', 'h2:run:5', 9, q)).toBeUndefined()
  })

  it('keeps a hold across ring changes (a key may move away and back at a heal), waking the waiting to check again', async () => {
    const clock = new ManualClock()
    const holds = new RetryHolds({ clock, holdMs: 1_000 })
    holds.hold('k', 'a', 'h2', 1, undefined)
    const waiting = holds.turn('k', 'x', 5, undefined)
    expect(waiting).toBeDefined()
    holds.ringChanged() // the key moved to another hub: the waiting message checks ownership again
    expect(await settled(waiting)).toBe(true)
    holds.ringChanged() // …and came back: a's retry still goes first
    expect(holds.turn('k', 'x', 5, undefined), 'x arrived after a, whose retry has not come').toBeDefined()
    expect(holds.turn('k', 'a', 9, undefined), 'a\'s retry takes its first place').toBeUndefined()
    holds.released('k', 'a')
    expect(holds.turn('k', 'x', 5, undefined)).toBeUndefined()
  })
})

describe('originOf (a publish id names its ingress run and its place there)', () => {
  it('reads <hub>:<run>:<n> and nothing else', () => {
    expect(originOf('h1:lz3k9:42')).toEqual({ source: 'h1:lz3k9', n: 42 })
    for (const id of ['h1:lz3k9:', 'h1:lz3k9:1e3', 'h1:lz3k9:-4', 'h1:lz3k9: 7', 'h1:lz3k9:0x1f', '42', ':42', 'will-x']) {
      expect(originOf(id), id).toBeUndefined()
    }
  })
})
