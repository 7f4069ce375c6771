/**
 * What `GET /api/ring` returns (admin API v1): one hub's view of the ring. Shared with the UI,
 * the CLI (`ringhub ring status`) and tests, so it holds only plain JSON data types.
 */

/**
 * A member's SWIM state as this hub sees it. `suspect` members still own their keys (a suspicion
 * that is refuted must not move ownership twice); `dead` and `left` members own nothing.
 */
export type RingMemberState = 'alive' | 'suspect' | 'dead' | 'left'

/** Where a member listens, each as `"host:port"` (IPv6 hosts in brackets: `"[::1]:7946"`). */
export interface RingMemberAddresses {
  /** SWIM gossip: UDP probes and dissemination, TCP push-pull on the same port. */
  gossip: string
  /** MQTT over TCP for devices; absent for a member that runs no broker (an observer). */
  mqtt?: string
  /** Admin HTTP + WebSocket (also MQTT over WebSocket at `/mqtt`); absent when not served. */
  admin?: string
  /** Hub-to-hub router connection; absent for observers, which route nothing. */
  interHub?: string
}

export interface RingMemberView {
  /** The member's id (`--id`), unique in the ring; the ring hashes this string. */
  id: string
  state: RingMemberState
  /** SWIM incarnation number: the member raises it to refute a suspicion and on every restart. */
  incarnation: number
  addresses: RingMemberAddresses
  /** Gossiped metadata, e.g. `version` and `role` (`hub` or `observer`). */
  meta: Record<string, string>
  /**
   * Fraction of the keyspace this member owns, in [0, 1]; 0 for observers and for dead or left
   * members. The shares of all members sum to 1 whenever at least one hub owns keys.
   */
  share: number
}

export interface RingView {
  apiVersion: 1
  /** Id of the hub that answered. */
  self: string
  /**
   * Checksum of the set of key-owning hubs (8 lowercase hex digits). Hubs that agree on who owns
   * keys show the same checksum, so the UI and tests compare views without comparing member lists.
   */
  checksum: string
  /** Every member this hub knows of, key owners or not, sorted by id. */
  members: RingMemberView[]
}

/**
 * `GET /api/v1/ring/vnodes`: the vnode positions of the ring the answering hub routes by. Point i
 * at `positions[i]` (a 32-bit hash, ascending) is owned by `owners[i]`; it owns the keys hashing
 * into (positions[i-1], positions[i]], the first point also those after the last. `format`
 * names the hashing settings (the checksum covers it), so a client that places the points itself
 * knows when its own placement is the hub's.
 */
export interface RingVnodesView {
  apiVersion: 1
  /** The same checksum as the ring view's of the same moment. */
  checksum: string
  /** e.g. `hashring/md5/v100/r4/hub:` (ring.ts `RING_FORMAT`). */
  format: string
  positions: number[]
  owners: string[]
}
