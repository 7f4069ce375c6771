import { criterion, type Criterion } from './record.js'
import { FaultRing, type FaultRingOptions } from './fault-ring.js'
import type { CheckOptions, HistoryCheck } from './history.js'
import { Ring } from '../../hub/src/ring/ring.js'

/** Runs `fn` on a fresh ring and always cleans it up (processes, namespaces, data). */
export async function withRing<T>(options: FaultRingOptions, fn: (ring: FaultRing) => Promise<T>): Promise<T> {
  const ring = await FaultRing.start(options)
  try {
    return await fn(ring)
  } finally {
    await ring.cleanup()
  }
}

/** `devices/<tag>0` .. `devices/<tag>(n-1)`. */
export function keys(tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `devices/${tag}${i}`)
}

/** The hub of `hosts` (ids h<i>) that owns the most of `of` in a ring of all of them, and its keys. */
export function biggestOwner(hosts: readonly number[], of: readonly string[]): { host: number, keys: string[] } {
  const ring = new Ring(hosts.map((i) => `h${i}`))
  const owned = (i: number): string[] => of.filter((k) => ring.ownerOf(k) === `h${i}`)
  const host = [...hosts].sort((a, b) => owned(b).length - owned(a).length)[0] as number
  return { host, keys: owned(host) }
}

/** The history's delivery figures, in the summary's order. */
export function deliveryFigures(c: HistoryCheck): Record<string, number> {
  return {
    attempted: c.attempted, acked: c.acked, lost: c.lost, phantoms: c.phantoms, duplicates: c.duplicates,
    reorders: c.reorders, 'in-doubt reorders': c.inDoubtReorders,
  }
}

/** Invariants 2 and 3 at the subscribers: nothing acknowledged lost, nothing invented, no acknowledged message out of order. */
export function deliveryCriteria(c: HistoryCheck, missingFromLogs: number): Criterion[] {
  return [
    criterion('lost', c.lost, '==', 0),
    criterion('phantoms', c.phantoms, '==', 0),
    criterion('reorders', c.reorders, '==', 0),
    criterion('acked, not in the owner\'s log', missingFromLogs, '==', 0),
  ]
}

/**
 * The end of a loaded scenario: stops the loads, waits until every subscriber holds what it must
 * (`mustHave`), checks the history and prints what explains a failure; `missing` counts the
 * acknowledged messages of `keys` absent from their owners' logs, read through hub `logsVia`.
 */
export async function endLoad(ring: FaultRing, name: string, o: { zeroMs: number, keys: readonly string[], logsVia: number, mustHave?: CheckOptions['mustHave'] }): Promise<{ c: HistoryCheck, missing: number }> {
  await ring.stopLoads()
  await ring.settle(o.mustHave)
  const c = ring.history.check({ zeroMs: o.zeroMs, ...(o.mustHave ? { mustHave: o.mustHave } : {}) })
  const missing = (await ring.missingFromOwnerLogs(o.logsVia, o.keys)).length
  explain(name, c)
  return { c, missing }
}

/** Prints what explains a failure (lost and reordered messages, per-subscriber counts). */
export function explain(name: string, c: HistoryCheck): void {
  const per = [...c.subscribers].map(([s, x]) => `${s}: ${x.received} received, ${x.lost} lost, ${x.duplicates} duplicates, ${x.reorders} reorders, ${x.inDoubtReorders} in doubt`)
  process.stdout.write(`[faults] ${name}:\n  ${[...per, ...c.explain].join('\n  ')}\n`)
}

export const seconds = (ms: number): number => Math.round(ms / 100) / 10
