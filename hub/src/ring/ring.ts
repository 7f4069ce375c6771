/**
 * The consistent-hash ring over the key-owning hubs (DESIGN.md §2), on npm `hashring`. A `Ring`
 * is immutable: a membership change builds a new one, and `diffRings` compares two of them.
 */
import HashRing from 'hashring'
import { RinghubError } from '../base/errors.js'
import type { RingMemberState } from '../contract/ring-view.js'
import { ringChecksum } from './checksum.js'
import { arcShares, diffContinua, type Continuum, type OwnershipMove } from './ownership-diff.js'

/**
 * Ring settings. Every hub must use the same ones, or hubs name different owners for the same
 * key; they are constants, not configuration, and they are part of the checksum.
 *
 * - Hash `md5`: hashring's default and ketama's. One 16-byte digest yields `REPLICAS` = 4
 *   independent 32-bit points, and it spreads short similar strings (`hub-1`, `hub-2`) well.
 *   Used for placement only, not security. (A Node built in FIPS mode lacks md5; the ring would
 *   then fail at start-up, not silently disagree.)
 * - `REPLICAS` 4 (ketama; hashring's `replicas` option): points per vnode, free per digest.
 * - `VNODES` 100 per hub, i.e. 400 points: a hub's share then has a relative standard deviation
 *   of about 1/√400 = 5% (measured: the worst hub of 20 random 3-, 5- and 10-hub rings is 12–14%
 *   off its fair share, against 15–21% with hashring's default of 40). Building costs N·100
 *   digests plus a sort of N·400 points: 2–20 ms for an edge ring of 3–30 hubs, about 1 s at
 *   N = 1000, paid once per change of the key-owning set, never per message.
 */
export const VNODES = 100
export const REPLICAS = 4
export const HASH_ALGORITHM = 'md5'
/**
 * Prepended to each hub id to make hashring's server name. hashring and its helpers keep servers
 * as properties of plain objects, so a hub named `__proto__` would get no points at all (and the
 * ring would disagree with its member list); no Object.prototype property contains a `:`, so
 * prefixed names are safe for any id a peer may announce.
 */
const SERVER_PREFIX = 'hub:'
/** Names the settings above inside the checksum. Bump it whenever any of them changes. */
export const RING_FORMAT = `hashring/${HASH_ALGORITHM}/v${VNODES}/r${REPLICAS}/${SERVER_PREFIX}`

/** The ring's internal structure did not come out as expected (e.g. a hashring upgrade). */
export class RingError extends RinghubError {}

/** Keys whose owner a Ring remembers before it starts over. */
const OWNER_CACHE_ENTRIES = 100_000

/**
 * The part of a membership entry the ring looks at; membership's `Member` (role in its gossiped
 * `meta`) fits it as is, without this layer importing the one above it.
 */
export interface RingCandidate {
  readonly id: string
  readonly state: RingMemberState
  readonly meta: { readonly role: 'hub' | 'observer' }
}

/**
 * Whether a member owns keys: hubs that are alive or merely suspected. Observers never do. A
 * suspect keeps its keys, as in ringpop, because SWIM suspicion is often refuted (Lifeguard) and
 * moving ownership out and back costs two hand-overs; a hub that really failed loses its keys
 * when it is declared dead, so its replica takes over (DESIGN.md §2).
 */
export function ownsKeys(member: RingCandidate): boolean {
  return member.meta.role === 'hub' && (member.state === 'alive' || member.state === 'suspect')
}

/** The shape of hashring's continuum entries (`HashRing#ring`, sorted by `value`). */
interface HashRingNode { value: number, server: string }

export class Ring {
  /** Key-owning hub ids, sorted (UTF-16 code-unit order, the same on every hub). */
  readonly members: readonly string[]
  /** See `ringChecksum`: equal for equal member sets on every hub. */
  readonly checksum: string
  /** @internal The sorted vnode points, for `diffRings`. */
  readonly continuum: Continuum
  readonly #hashRing: HashRing
  readonly #shares: ReadonlyMap<string, number>
  /** Owners looked up so far (a Map: keys are remote input, never object properties). A Ring never
   *  changes, so entries stay right; bounded by clearing. */
  readonly #owners = new Map<string, string | undefined>()
  readonly #replicas = new Map<string, readonly string[]>()

  /** The ring of the given hubs; order and duplicates do not matter. */
  constructor(hubIds: Iterable<string>) {
    // Insertion order matters when two points collide: hashring's sort is stable, so the tie goes
    // to the hub added first. Sorted ids make that order a function of the set alone (object keys
    // keep insertion order here: the prefix below means no key looks like an array index).
    this.members = Object.freeze([...new Set(hubIds)].sort())
    this.checksum = ringChecksum(RING_FORMAT, this.members)
    const servers: Record<string, { vnodes: number }> = {}
    for (const id of this.members) servers[SERVER_PREFIX + id] = { vnodes: VNODES }
    // Every hub carries its own `vnodes`, and `vnode count` is 0 so that hashring uses it as is:
    // with the default path it computes floor(weight/total × count × N), which floating point
    // makes 39 instead of 40 for N = 7, so a join would also shift points between old members.
    // The LRU cache is never consulted (see `ownerOf`), so it is kept minimal.
    this.#hashRing = new HashRing(servers, HASH_ALGORITHM, {
      'vnode count': 0, replicas: REPLICAS, 'max cache size': 1,
    })
    this.continuum = readContinuum(this.#hashRing, this.members.length * VNODES * REPLICAS)
    this.#shares = arcShares(this.continuum)
  }

  /** The ring of the members that own keys (see `ownsKeys`). */
  static of(members: Iterable<RingCandidate>): Ring {
    const ids: string[] = []
    for (const m of members) if (ownsKeys(m)) ids.push(m.id)
    return new Ring(ids)
  }

  get size(): number { return this.members.length }

  has(id: string): boolean { return this.#shares.has(id) }

  /** The hub that owns `key`, or undefined when no hub owns keys. */
  ownerOf(key: string): string | undefined {
    // Every publish asks: an md5 per call would cost more than the rest of routing.
    const known = this.#owners.get(key)
    if (known !== undefined || this.#owners.has(key)) return known
    // `range(key, 1)` is `get(key)` without hashring's LRU cache, which stores keys as properties
    // of a plain object: `get("__proto__")` writes to Object.prototype, and a device chooses its
    // topic, so keys are remote input.
    const server = this.#hashRing.range(key, 1)[0]
    const owner = server === undefined ? undefined : server.slice(SERVER_PREFIX.length)
    if (this.#owners.size >= OWNER_CACHE_ENTRIES) this.#owners.clear()
    this.#owners.set(key, owner)
    return owner
  }

  /**
   * Up to `n` distinct hubs for `key`, the owner first, then the hubs that follow it on the ring:
   * the replica set, whose second member becomes owner if the first dies. Fewer than `n` when the
   * ring is smaller.
   */
  replicasOf(key: string, n: number): string[] {
    // hashring reads a size of 0 as "all servers", and stops only on an exact count.
    const size = Math.min(Math.floor(n), this.members.length)
    if (!(size >= 1)) return []
    if (size === 1) {
      const owner = this.ownerOf(key)
      return owner === undefined ? [] : [owner]
    }
    // Every replicated publish asks: cached like ownerOf (a copy goes out, callers may keep it).
    const cacheKey = `${size}\u0000${key}`
    let replicas = this.#replicas.get(cacheKey)
    if (!replicas) {
      replicas = this.#hashRing.range(key, size, true).map((server) => server.slice(SERVER_PREFIX.length))
      if (this.#replicas.size >= OWNER_CACHE_ENTRIES) this.#replicas.clear()
      this.#replicas.set(cacheKey, replicas)
    }
    return [...replicas]
  }

  /** Fraction of the keyspace `id` owns: exact (a multiple of 2⁻³²); 0 for non-members. */
  shareOf(id: string): number {
    return this.#shares.get(id) ?? 0
  }
}

/**
 * Copies hashring's continuum (`HashRing#ring`, not in its typings but what `get` and `range`
 * search) into typed arrays, checking its shape, so a hashring upgrade that changes it fails
 * loudly here instead of making the ownership diff disagree with `ownerOf`.
 */
function readContinuum(hashRing: HashRing, expected: number): Continuum {
  const nodes = (hashRing as unknown as { ring?: unknown }).ring
  if (!Array.isArray(nodes) || nodes.length !== expected) {
    throw new RingError(`hashring continuum has ${Array.isArray(nodes) ? nodes.length : 'no'} points, expected ${expected}`)
  }
  const positions = new Uint32Array(nodes.length)
  const owners: string[] = []
  let previous = 0
  nodes.forEach((node: Partial<HashRingNode>, i) => {
    const { value, server } = node
    if (typeof value !== 'number' || typeof server !== 'string' || !server.startsWith(SERVER_PREFIX)
      || value < previous || value >= 2 ** 32) {
      throw new RingError(`hashring continuum point ${i} is malformed or out of order`)
    }
    positions[i] = previous = value
    owners.push(server.slice(SERVER_PREFIX.length))
  })
  return { positions, owners: Object.freeze(owners) }
}

/** What moved from whom to whom between two rings (see `diffContinua`). */
export function diffRings(before: Ring, after: Ring): OwnershipMove[] {
  return diffContinua(before.continuum, after.continuum)
}
