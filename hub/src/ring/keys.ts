/**
 * Keys (DESIGN.md §2): a topic's key is its first `keyDepth` levels, so all topics of one device
 * share one key and therefore one owner. Pure functions, table-tested.
 */
import { ConfigError } from '../base/errors.js'

/** Levels that make up a key unless configured otherwise: `devices/d42/…` → `devices/d42`. */
export const DEFAULT_KEY_DEPTH = 2

const SLASH = 47 // '/'
const PLUS = 43 // '+'
const HASH = 35 // '#'
const DOLLAR = 36 // '$'

/** How a subscription filter's interest is registered (DESIGN.md §2). */
export type FilterClass =
  /** Matches topics of one key only: interest goes to that key's owner. */
  | { kind: 'keyed', key: string }
  /** May match topics of many keys: interest is announced to every hub. */
  | { kind: 'global' }
  /** Matches only `$` topics, which each hub serves itself: no interest leaves the hub. */
  | { kind: 'local' }

/**
 * The key of a topic name, or `null` for a `$` topic. Topics starting with `$` (`$SYS/…`) are
 * server-specific [MQTT-4.7.2-1 and its non-normative note], so each hub answers them itself and
 * they have no owner. A topic with fewer than `keyDepth` levels is its own key.
 */
export function keyOf(topic: string, keyDepth = DEFAULT_KEY_DEPTH): string | null {
  checkKeyDepth(keyDepth)
  if (isLocalTopic(topic)) return null
  return topic.slice(0, endOfPrefix(topic, keyDepth))
}

/** A `$` topic: it has no key and stays on the hub that sees it (`keyOf` is null exactly then). */
export function isLocalTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR
}

/**
 * Classifies a subscription filter. It is keyed when its first `keyDepth` levels hold no
 * wildcard, because then every topic it matches starts with those same levels and so has that
 * key (`devices/d42/#` matches `devices/d42` itself and everything below). Otherwise it is
 * global. A filter that starts with `$` can only match `$` topics, which are local.
 *
 * A `+` or `#` anywhere in the prefix makes the filter global, even inside a level (an invalid
 * filter that the broker rejects anyway): announcing interest everywhere is never wrong, only
 * costlier, whereas a wrong key would lose messages.
 */
export function classifyFilter(filter: string, keyDepth = DEFAULT_KEY_DEPTH): FilterClass {
  checkKeyDepth(keyDepth)
  if (filter.charCodeAt(0) === DOLLAR) return { kind: 'local' }
  const end = endOfPrefix(filter, keyDepth)
  for (let i = 0; i < end; i++) {
    const c = filter.charCodeAt(i)
    if (c === PLUS || c === HASH) return { kind: 'global' }
  }
  return { kind: 'keyed', key: filter.slice(0, end) }
}

/** Index just past the first `levels` levels of `s` (the whole string if it has fewer). */
function endOfPrefix(s: string, levels: number): number {
  let seen = 0
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === SLASH && ++seen === levels) return i
  }
  return s.length
}

function checkKeyDepth(keyDepth: number): void {
  if (!Number.isInteger(keyDepth) || keyDepth < 1) {
    throw new ConfigError('keyDepth', `must be an integer ≥ 1, got ${keyDepth}`)
  }
}
