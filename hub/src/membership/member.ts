/**
 * A ring member as this hub sees it. One `Member` per id in the member table; the protocol
 * state machine (a later session) owns the table and changes entries only through
 * `precedence.ts`.
 *
 * States follow memberlist (`StateAlive`, `StateSuspect`, `StateDead`, `StateLeft`):
 * - `alive`: answering probes, or refuted the last accusation with a higher incarnation.
 * - `suspect`: a probe failed (SWIM §4.2); the member has until the suspicion timeout to refute.
 * - `dead`: the suspicion timed out (or another member told us so). Only an `alive` with a
 *   higher incarnation brings it back (a restart, or a refutation that arrived late).
 * - `left`: it announced a graceful leave (a `dead` message sent by the member itself).
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']

/** `hub` members own keys; `observer` members (the desktop app) join SWIM but own none. */
export type MemberRole = 'hub' | 'observer'

export const MEMBER_ROLES: readonly MemberRole[] = ['hub', 'observer']

/** Where to reach a member, as `host:port` strings (IPv6 hosts in brackets). */
export interface MemberAddresses {
  /** SWIM gossip: UDP probes and gossip, TCP push-pull, on the same port. Always present. */
  gossip: string
  /** MQTT over TCP for devices, when the member runs a broker. */
  mqtt?: string
  /** Admin HTTP/WebSocket API. */
  admin?: string
  /** Hub ↔ hub routing connection. */
  interHub?: string
}

/**
 * Member metadata, gossiped with every `alive`. Keep it small: it travels in ≤ 1400-byte UDP
 * packets (memberlist caps its opaque meta at 512 bytes, `MetaMaxSize`); the codec enforces
 * `WIRE_LIMITS` on it.
 */
export interface MemberMeta {
  /** Software version of the member (`hub/src/version.ts`). */
  version: string
  role: MemberRole
  /** Further string fields, e.g. a zone. Unknown fields are kept and passed on. */
  [field: string]: string
}

export interface Member {
  /** Unique, stable member name (the hub id); memberlist's `Node.Name`. */
  id: string
  /**
   * Incarnation number: only the member itself raises it, to refute an accusation (SWIM §4.2)
   * or to announce new metadata. Persisted, so a restarted hub rejoins with a higher one.
   */
  incarnation: number
  state: MemberState
  /**
   * When `state` last changed, from this hub's `clock.monotonicMs()`. Local only, and only for
   * durations (reaping, gossip to the dead, address reclaim): a wall-clock jump must not make a
   * dead member look older or younger than it is.
   */
  stateChangeMs: number
  addresses: MemberAddresses
  meta: MemberMeta
}

/** The part of a member that the precedence rule compares. */
export interface MemberVersion {
  state: MemberState
  incarnation: number
}
