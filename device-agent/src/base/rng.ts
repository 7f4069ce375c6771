import { randomBytes } from 'node:crypto'

/**
 * Randomness as a dependency (STYLE.md §1), so jitter and simulations replay from a printed seed.
 * Same interface and generator as the hub's `hub/src/base/rng.ts`, which the agent may not import.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [0, n). */
  int(n: number): number
}

/** mulberry32: small, fast, good enough for jitter and simulation; not for secrets. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}

/** An unpredictable 32-bit seed, for production use (printed so a run can be replayed). */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0)
}
