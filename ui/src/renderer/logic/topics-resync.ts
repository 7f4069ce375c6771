/**
 * When the Topics tree re-reads the hub's full topic list. The sampled tap keeps it live, but a
 * live message cannot tell a topic's full count, and the tap skips messages beyond its rate: so
 * the list is re-read every `everyMs`, soon after the tap shows a topic the tree did not have,
 * and once a burst the tap skipped messages of is over (`quietMs` without a skip). Not while
 * messages keep being skipped: reading the whole list every few seconds from a hub under that
 * load would add to it; the periodic read catches up.
 */
export interface TopicsResyncState {
  /** Topics the tap showed that the tree did not have, since the last read. */
  newTopics: number
  /** Messages the tap skipped since the last read. */
  skipped: number
  /** When the tap last reported a skip, ms (0: never). */
  lastSkipAtMs: number
  /** When the list was last read, ms. */
  lastReadAtMs: number
}

export function topicsResyncDue(s: TopicsResyncState, nowMs: number, o: { everyMs: number, quietMs: number }): boolean {
  if (s.newTopics > 0) return true
  if (s.skipped > 0 && nowMs - s.lastSkipAtMs >= o.quietMs) return true
  return nowMs - s.lastReadAtMs >= o.everyMs
}
