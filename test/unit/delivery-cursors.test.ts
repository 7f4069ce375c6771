import { describe, expect, it, vi } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { DeliveryCursors } from '../../hub/src/routing/delivery-cursors.js'
import type { Delivery } from '../../hub/src/routing/router.js'
import type { LogEntry, Offset } from '../../hub/src/store/topic-log.js'

const KEY = 'devices/d1'
const msg = (epoch: number, seq: number, topic = `${KEY}/t`): Delivery => ({ key: KEY, epoch, seq, topic, payload: Buffer.from(`${epoch}:${seq}`), qos: 1 })
const entry = (epoch: number, seq: number, topic = `${KEY}/t`): LogEntry => ({ ...msg(epoch, seq, topic), retain: false, tsMs: 0 })
const after = (e: Offset, from: Offset): boolean => e.epoch > from.epoch || (e.epoch === from.epoch && e.seq > from.seq)

/**
 * `began`: what a peer says when asked where its deliveries of a key to this hub began (per key;
 * absent: it cannot say, as a hub before the question answers with an error).
 */
function harness(logs: Record<string, LogEntry[]>, opts: { async?: boolean, fail?: boolean, perRead?: number, maxWaiting?: number, began?: Record<string, Offset | null> } = {}) {
  const handed: string[] = []
  const reads: Array<{ hub: string, from: Offset }> = []
  const asked: Array<{ hub: string, key: string }> = []
  const pending: Array<() => void> = []
  const cursors = new DeliveryCursors({
    self: 'h1',
    hand: (d) => { handed.push(`${d.epoch}:${d.seq}`) },
    readLog: (hub, _key, from) => {
      reads.push({ hub, from })
      const entries = (logs[hub] ?? []).filter((e) => after(e, from)).slice(0, opts.perRead)
      if (!opts.async) return entries
      return new Promise<LogEntry[]>((resolve, reject) => pending.push(() => (opts.fail ? reject(new Error('unreachable')) : resolve(entries))))
    },
    began: (hub, key) => {
      asked.push({ hub, key })
      const first = opts.began?.[key]
      return first === undefined ? Promise.reject(new Error(`${hub} does not serve began`)) : Promise.resolve(first ?? undefined)
    },
    wanted: () => (topic) => !topic.endsWith('/other'),
    log: silentLogger(),
    ...(opts.maxWaiting === undefined ? {} : { maxWaitingPerKey: opts.maxWaiting }),
  })
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      (pending.shift() as () => void)()
      for (let i = 0; i < 5; i++) await Promise.resolve()
    }
  }
  return { cursors, handed, reads, asked, flush }
}

/** Lets the promise jobs queued so far (an answer to `began`) run. */
const settled = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve() }

describe('delivery cursors: each message once, nothing lost when a key changes owner', () => {
  it('asks a peer whose claim it cannot check (no cursor for the key here) where its deliveries began; not told, counts it, reads nothing and hands the delivery over', async () => {
    const { cursors, handed, reads, asked } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3)] }, { began: { 'devices/d4': null } })
    cursors.deliver('h2', msg(1, 3), { epoch: 1, seq: 2 }) // 1:1-1:2 lost before any cursor here; h2 cannot say (an older hub)
    await settled()
    expect(cursors.stats.claimsWithoutCursor).toBe(1)
    const other = harness({})
    other.cursors.deliver('h2', msg(1, 7), { epoch: 0, seq: 0 }) // the owner sent this hub nothing before
    other.cursors.deliver('h2', { ...msg(2, 1), key: 'devices/d2' }) // the first of its epoch
    other.cursors.deliver('h1', { ...msg(1, 9), key: 'devices/d3' }) // this hub's own key
    expect(other.cursors.stats.claimsWithoutCursor).toBe(0)
    expect(other.asked, 'nothing to ask').toEqual([])
    cursors.deliver('h2', { ...msg(1, 4), key: 'devices/d4' }) // no from: it says 1:3 came before it; h2 has nothing on record
    await settled()
    expect(cursors.stats.claimsWithoutCursor).toBe(2)
    expect(handed).toEqual(['1:3', '1:4'])
    expect(reads).toEqual([])
    expect(asked).toEqual([{ hub: 'h2', key: KEY }, { hub: 'h2', key: 'devices/d4' }])
  })

  it('reads from where a peer says its deliveries began when all of them were lost before any cursor here, in order with what arrives meanwhile', async () => {
    const { cursors, handed, reads, asked } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3, `${KEY}/other`), entry(1, 4), entry(1, 5), entry(1, 6)] }, { began: { [KEY]: { epoch: 1, seq: 2 } } })
    // h2 sent this hub 1:2 to 1:4 (1:1 came before its interest; 1:3 is not wanted here), all lost
    // in a link that broke; 1:5 comes on the new connection, saying 1:4 came before it.
    cursors.deliver('h2', msg(1, 5))
    cursors.deliver('h2', msg(1, 6)) // waits behind the question
    expect(handed).toEqual([])
    await settled()
    expect(asked).toEqual([{ hub: 'h2', key: KEY }])
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 1 } }])
    expect(handed).toEqual(['1:2', '1:4', '1:5', '1:6'])
    expect(cursors.stats).toMatchObject({ cursorsFromBegan: 1, claimsWithoutCursor: 0, caughtUp: 2 })
  })

  it('hands a delivery over as it is when the start its sender names comes after it (records of this run begun since: the delivery was for the run before)', async () => {
    const { cursors, handed, reads } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4)] }, { began: { [KEY]: { epoch: 1, seq: 4 } } })
    cursors.deliver('h2', msg(1, 2), { epoch: 1, seq: 1 })
    cursors.deliver('h2', msg(1, 4), { epoch: 0, seq: 0 }) // h2's first to this run of this hub
    await settled()
    expect(handed).toEqual(['1:2', '1:4'])
    expect(reads).toEqual([])
    expect(cursors.stats).toMatchObject({ cursorsFromBegan: 0, claimsWithoutCursor: 1, repeatsSkipped: 0 })
  })

  it('reads what a peer\'s live delivery says came before it and never arrived (lost in a link that broke and reconnected), before handing it over', () => {
    const { cursors, handed, reads } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4, `${KEY}/other`), entry(1, 5), entry(1, 6)] })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 2))
    // 1:3 to 1:5 were written into the broken link; 1:6 comes on the new connection, and without
    // a from it says h2's previous delivery of the key to this hub was 1:5.
    cursors.deliver('h2', msg(1, 6))
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 2 } }])
    expect(handed, '1:4 is on a topic nobody here wants').toEqual(['1:1', '1:2', '1:3', '1:5', '1:6'])
    expect(cursors.stats.caughtUp).toBe(2)
  })

  it('reads a gap in rounds, and counts one longer than ten reads as a failure (the rest stays missing) instead of skipping it silently', async () => {
    const log = Array.from({ length: 30 }, (_, i) => entry(1, i + 1))
    const { cursors, handed, reads, flush } = harness({ h2: log }, { async: true, perRead: 2 })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 30)) // 2-29 lost: 28 entries, two a read
    await flush()
    expect(reads).toHaveLength(10)
    expect(handed).toEqual(['1:1', ...Array.from({ length: 20 }, (_, i) => `1:${i + 2}`), '1:30'])
    expect(cursors.stats.catchUpFailures).toBe(1)
    // Shorter gaps are read whole, in as many rounds as they need.
    const short = harness({ h2: log }, { async: true, perRead: 2 })
    short.cursors.deliver('h2', msg(1, 1))
    short.cursors.deliver('h2', msg(1, 8))
    await short.flush()
    expect(short.handed).toEqual(['1:1', '1:2', '1:3', '1:4', '1:5', '1:6', '1:7', '1:8'])
    expect(short.cursors.stats.catchUpFailures).toBe(0)
  })

  it('hands over what a gap read finds up to the sender\'s claim only: what lies between the claim and the delivery was not sent here (a subscription made since must not get it)', () => {
    const { cursors, handed, reads } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4), entry(1, 5)] })
    cursors.deliver('h2', msg(1, 1))
    // 1:2 and 1:3 were lost in a link; 1:4 was not sent here (this hub's interest was on its way).
    cursors.deliver('h2', msg(1, 5), { epoch: 1, seq: 3 })
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 1 } }])
    expect(handed).toEqual(['1:1', '1:2', '1:3', '1:5'])
  })

  it('reads nothing when a peer names an earlier delivery it sent (this hub wants some of the key\'s topics only), claims nothing, or the messages are its own', () => {
    const { cursors, handed, reads } = harness({ h2: [] })
    cursors.deliver('h2', msg(1, 2), { epoch: 0, seq: 0 }) // h2's first to this hub (1:1 was not for it)
    cursors.deliver('h2', msg(1, 7), { epoch: 1, seq: 2 }) // 3-6 were not for this hub
    cursors.deliver('h2', msg(1, 9), { epoch: 0, seq: 0 }) // the sender restarted: no claim
    cursors.deliver('h1', msg(1, 12)) // this hub's own key: handed as numbered
    expect(reads).toEqual([])
    expect(handed).toEqual(['1:2', '1:7', '1:9', '1:12'])
    // A claim beyond the cursor is a gap, whatever the sender.
    cursors.deliver('h2', msg(1, 15), { epoch: 1, seq: 13 })
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 12 } }])
  })

  it('keeps at most maxWaitingPerKey deliveries while a gap is read, and reads the ones it let go from the log after them, in order', async () => {
    const log = Array.from({ length: 30 }, (_, i) => entry(1, i + 1))
    const { cursors, handed, reads, flush } = harness({ h2: log }, { async: true, maxWaiting: 5 })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 4)) // 1:2-1:3 lost in a link: a read starts
    for (let seq = 5; seq <= 30; seq++) cursors.deliver('h2', msg(1, seq))
    // Waiting: 1:4 (the one that showed the gap), 1:5-1:8, then the newest let go is kept (1:30).
    expect(cursors.stats.waitingLetGo).toBe(21) // 1:9-1:29
    await flush()
    expect(handed).toEqual(Array.from({ length: 30 }, (_, i) => `1:${i + 1}`))
    expect(reads.map((r) => r.from)).toEqual([{ epoch: 1, seq: 1 }, { epoch: 1, seq: 8 }])
    expect(cursors.stats).toMatchObject({ caughtUp: 2 + 21, catchUpFailures: 0 })
  })

  it('keeps the newest let go when a repeat arrives behind it, reads all it let go past the ten-read limit, and never lets go of its own deliveries', async () => {
    const log = Array.from({ length: 40 }, (_, i) => entry(1, i + 1))
    const { cursors, handed, flush } = harness({ h2: log }, { async: true, maxWaiting: 3, perRead: 2 })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 4)) // a gap: a read starts
    for (let seq = 5; seq <= 40; seq++) cursors.deliver('h2', msg(1, seq))
    cursors.deliver('h2', msg(1, 2)) // a late repeat: it must not take the newest's place
    await flush()
    expect(handed).toEqual(Array.from({ length: 40 }, (_, i) => `1:${i + 1}`))
    expect(cursors.stats).toMatchObject({ waitingLetGo: 33, catchUpFailures: 0 }) // 1:7-1:39 (waiting: 1:4-1:6; 1:40 kept)
    // This hub's own deliveries of a key being read wait, however many.
    const own = harness({ h2: [entry(1, 1), entry(1, 2)] }, { async: true, maxWaiting: 1 })
    own.cursors.deliver('h2', msg(1, 1))
    own.cursors.deliver('h2', msg(2, 1)) // a new owner: a read of h2's log starts
    for (let seq = 2; seq <= 5; seq++) own.cursors.deliver('h1', msg(2, seq)) // this hub took the key over meanwhile
    await own.flush()
    expect(own.handed).toEqual(['1:1', '1:2', '2:1', '2:2', '2:3', '2:4', '2:5'])
    expect(own.cursors.stats.waitingLetGo).toBe(0)
  })

  it('on a newer epoch whose delivery claims nothing (0, 0: its sender sent this hub nothing of the key), hands over all it reads before it', async () => {
    // The pause scenario: h3 numbered the key in epoch 3 while this hub counted as dead, so its
    // first delivery here claims nothing; the gap read must not stop at that "claim".
    const { cursors, handed, flush } = harness({ h3: [entry(3, 1), entry(3, 2), entry(3, 3)] }, { async: true })
    cursors.deliver('h1', msg(2, 5))
    cursors.deliver('h3', msg(3, 4), { epoch: 0, seq: 0 })
    await flush()
    expect(handed).toEqual(['2:5', '3:1', '3:2', '3:3', '3:4'])
    const sync = harness({ h3: [entry(3, 1), entry(3, 2)] })
    sync.cursors.deliver('h1', msg(2, 5))
    sync.cursors.deliver('h3', msg(3, 3), { epoch: 0, seq: 0 })
    expect(sync.handed).toEqual(['2:5', '3:1', '3:2', '3:3'])
  })

  it('hands over messages in order and skips those at or before the cursor (repeats)', () => {
    const { cursors, handed } = harness({})
    for (const d of [msg(1, 1), msg(1, 2), msg(1, 2), msg(1, 1), msg(1, 3)]) cursors.deliver('h2', d)
    expect(handed).toEqual(['1:1', '1:2', '1:3'])
    expect(cursors.stats.repeatsSkipped).toBe(2)
  })

  it('on a newer epoch from a peer, reads that peer\'s log after the cursor and hands over what never arrived first, holding later deliveries', async () => {
    // h2 was the replica: it has 1:3 and 1:4 that the dead owner never got to this hub.
    const { cursors, handed, reads, flush } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4, `${KEY}/other`), entry(1, 5), entry(2, 1)] }, { async: true })
    cursors.deliver('h3', msg(1, 1))
    cursors.deliver('h3', msg(1, 2))
    cursors.deliver('h2', msg(2, 1))
    cursors.deliver('h2', msg(2, 2)) // arrives during the catch-up: waits behind it
    cursors.deliver('h3', msg(1, 3)) // the dead owner's late copy: waits, then goes late (clients dedupe it)
    expect(handed).toEqual(['1:1', '1:2'])
    await flush()
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 2 } }])
    expect(handed).toEqual(['1:1', '1:2', '1:3', '1:5', '2:1', '2:2', '1:3'])
    expect(cursors.stats).toMatchObject({ catchUps: 1, caughtUp: 2, lateHanded: 1 })
  })

  it('catches up from its own log at once when it becomes the owner itself', () => {
    const { cursors, handed, reads } = harness({ h1: [entry(1, 1), entry(1, 2), entry(1, 3)] })
    cursors.deliver('h3', msg(1, 1))
    const local = cursors.deliver('h1', msg(2, 1))
    expect(local).toBeUndefined()
    expect(reads).toEqual([{ hub: 'h1', from: { epoch: 1, seq: 1 } }])
    expect(handed).toEqual(['1:1', '1:2', '1:3', '2:1'])
  })

  it('goes on when the new owner cannot be read, and does not ask again for that epoch', async () => {
    const { cursors, handed, reads, flush } = harness({ h2: [entry(1, 2)] }, { async: true, fail: true })
    cursors.deliver('h3', msg(1, 1))
    cursors.deliver('h2', msg(2, 1))
    await flush()
    cursors.deliver('h2', msg(2, 2))
    expect(handed).toEqual(['1:1', '2:1', '2:2'])
    expect(reads).toHaveLength(1)
    expect(cursors.stats.catchUpFailures).toBe(1)
  })

  it('reads nothing for a key it sees for the first time, whatever its epoch', () => {
    const { cursors, handed, reads } = harness({})
    cursors.deliver('h2', msg(7, 40), { epoch: 0, seq: 0 }) // the sender's first to this hub
    expect(handed).toEqual(['7:40'])
    expect(reads).toEqual([])
  })

  it('after the ring changes, reads what a departed source never sent from the key\'s owner now, though nothing more is published', async () => {
    const { cursors, handed, reads, flush } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3)] }, { async: true })
    cursors.deliver('h3', msg(1, 1))
    cursors.sourcesGone(new Set(['h3']), () => 'h2') // h3 still here: nothing to read
    expect(reads).toEqual([])
    cursors.sourcesGone(new Set(['h2']), () => 'h2')
    cursors.deliver('h2', msg(2, 1)) // waits behind the read
    await flush()
    expect(reads[0]).toEqual({ hub: 'h2', from: { epoch: 1, seq: 1 } })
    expect(handed).toEqual(['1:1', '1:2', '1:3', '2:1'])
  })
})

describe('delivery cursors: a replay that resumes beyond the cursor (DeliverMessage.from)', () => {
  it('reads the gap from the sender first when the replay starts after what this hub holds, in the same epoch', async () => {
    // h2 sent 1:3 and 1:4 into a link that broke before this hub's death verdict; its replay to
    // this returning hub starts after 1:4, the offset it noted at the verdict.
    const { cursors, handed, reads, flush } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4), entry(1, 5), entry(1, 6)] }, { async: true })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 2))
    cursors.deliver('h2', msg(1, 5), { epoch: 1, seq: 4 })
    cursors.deliver('h2', msg(1, 6))
    expect(handed).toEqual(['1:1', '1:2'])
    await flush()
    expect(reads).toEqual([{ hub: 'h2', from: { epoch: 1, seq: 2 } }])
    expect(handed).toEqual(['1:1', '1:2', '1:3', '1:4', '1:5', '1:6'])
  })

  it('reads nothing when the replay starts where this hub stands, or before', () => {
    const { cursors, handed, reads } = harness({ h2: [entry(1, 1), entry(1, 2), entry(1, 3)] })
    cursors.deliver('h2', msg(1, 1))
    cursors.deliver('h2', msg(1, 2))
    cursors.deliver('h2', msg(1, 3), { epoch: 1, seq: 2 })
    cursors.deliver('h2', msg(1, 2), { epoch: 1, seq: 1 }) // a replay of what it has: a repeat
    expect(reads).toEqual([])
    expect(handed).toEqual(['1:1', '1:2', '1:3'])
    expect(cursors.stats.repeatsSkipped).toBe(1)
  })

  it('logs a hand-over that throws in a catch-up instead of leaving an unhandled rejection', async () => {
    const log = silentLogger()
    const error = vi.spyOn(log, 'error')
    let reply: (entries: LogEntry[]) => void = () => {}
    const cursors = new DeliveryCursors({
      self: 'h1',
      hand: (d) => { if (d.epoch === 2) throw new Error('hand-over bug') }, // the one that waited for the read
      readLog: () => new Promise<LogEntry[]>((resolve) => { reply = resolve }),
      began: () => Promise.resolve(undefined),
      wanted: () => () => true,
      log,
    })
    cursors.deliver('h2', msg(1, 1), { epoch: 0, seq: 0 })
    cursors.deliver('h2', msg(2, 3)) // a new epoch: reads the gap first
    reply([entry(1, 2)])
    await new Promise((r) => setImmediate(r))
    reply([]) // the read goes on until a round finds nothing more
    await new Promise((r) => setImmediate(r))
    expect(error).toHaveBeenCalledTimes(1)
    expect(error.mock.calls[0]?.[1]).toBe('delivery cursors: handing a key\'s deliveries over failed')
  })

  it('has this hub\'s own QoS 1 delivery that waits behind a catch-up say it is queued only once it went', async () => {
    const { cursors, handed, flush } = harness({ h2: [entry(1, 2)] }, { async: true })
    cursors.deliver('h2', msg(1, 1), { epoch: 0, seq: 0 })
    cursors.deliver('h2', msg(2, 1)) // a new owner: reads 1:2 from h2 first
    const own = cursors.deliver('h1', msg(2, 2)) // then this hub owns the key (its own delivery waits)
    const qos0 = cursors.deliver('h1', { ...msg(2, 3), qos: 0 })
    expect(qos0, 'QoS 0: nothing to wait for').toBeUndefined()
    let queued = false
    void own?.queued?.then(() => { queued = true })
    await Promise.resolve()
    expect(own?.queued, 'a QoS 1 message waits for its hand-over').toBeDefined()
    expect(queued).toBe(false)
    await flush()
    expect(handed).toEqual(['1:1', '1:2', '2:1', '2:2', '2:3'])
    expect(queued).toBe(true)
  })
})
