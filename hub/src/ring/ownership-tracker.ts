/**
 * Turns membership snapshots into ownership changes (DESIGN.md §2): fed every membership change,
 * it rebuilds the ring only when the set of key-owning hubs changed and then tells listeners what
 * moved, so routing re-registers interest and new owners fetch key state exactly once per change.
 */
import { EventEmitter } from 'node:events'
import type { OwnershipMove } from './ownership-diff.js'
import { diffRings, ownsKeys, Ring, type RingCandidate } from './ring.js'

export interface OwnershipChanged {
  /** The ring before the change; `before.ownerOf(key)` is a key's previous owner. */
  readonly before: Ring
  /** The ring now in force. */
  readonly after: Ring
  /** Keyspace fractions that changed owner (empty only when the last hub left). */
  readonly moves: readonly OwnershipMove[]
  /** `after.checksum`, for logs and for comparing with other hubs' views. */
  readonly checksum: string
}

/** Events in the past tense (STYLE.md §10). */
export interface OwnershipEvents {
  ownershipChanged: [change: OwnershipChanged]
}

export class OwnershipTracker extends EventEmitter<OwnershipEvents> {
  #ring: Ring

  /** Starts from `initial` (by default the empty ring, so the first hubs arrive as a change). */
  constructor(initial: Ring = new Ring([])) {
    super()
    this.#ring = initial
  }

  /** The ring now in force. */
  get ring(): Ring { return this.#ring }

  /**
   * Takes a full membership snapshot (every known member, any state or role). When the set of
   * key-owning hubs differs from the current ring's, installs the new ring, emits
   * `ownershipChanged` and returns the change; otherwise (state or metadata changes that move no
   * key, e.g. an observer joining) returns undefined and emits nothing.
   */
  update(members: Iterable<RingCandidate>): OwnershipChanged | undefined {
    const owners = new Set<string>()
    for (const m of members) if (ownsKeys(m)) owners.add(m.id)
    const ids = [...owners].sort() // the order Ring keeps its members in
    // Compare the member lists themselves, not checksums: a 32-bit collision must not hide a
    // change. Checked before building, as most snapshots (probes, refutations) change no owner.
    if (sameMembers(ids, this.#ring.members)) return undefined
    const before = this.#ring
    const after = new Ring(ids)
    const change: OwnershipChanged = { before, after, moves: diffRings(before, after), checksum: after.checksum }
    // Installed before emitting, so a listener that reads `tracker.ring` sees the new ring.
    this.#ring = after
    this.emit('ownershipChanged', change)
    return change
  }
}

function sameMembers(x: readonly string[], y: readonly string[]): boolean {
  return x.length === y.length && x.every((id, i) => id === y[i])
}
