import type { RingDelta } from '../contract/admin-api.js'
import type { RingMemberView, RingView } from '../contract/ring-view.js'

/**
 * The ring's deltas (issue 6, "ring snapshot and deltas"): what changed between two views, and
 * the view it leads to. Pure; the `ring` channel sends `ringDelta` frames built here to sockets
 * that asked for them.
 */

function sameMember(a: RingMemberView, b: RingMemberView): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** What changed from `before` to `after`; undefined when nothing did. */
export function ringDelta(before: RingView, after: RingView): RingDelta | undefined {
  const old = new Map(before.members.map((m) => [m.id, m]))
  const members = after.members.filter((m) => { const was = old.get(m.id); return was === undefined || !sameMember(was, m) })
  const now = new Set(after.members.map((m) => m.id))
  const removed = before.members.filter((m) => !now.has(m.id)).map((m) => m.id)
  if (members.length === 0 && removed.length === 0 && before.checksum === after.checksum) return undefined
  return { checksum: after.checksum, members, removed }
}

/** `view` with `delta` applied (the contract's rule), as a client keeps its copy. */
export function applyRingDelta(view: RingView, delta: RingDelta): RingView {
  const byId = new Map(view.members.map((m) => [m.id, m]))
  for (const id of delta.removed) byId.delete(id)
  for (const m of delta.members) byId.set(m.id, m)
  const members = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { ...view, checksum: delta.checksum, members }
}
