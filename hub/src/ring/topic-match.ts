/** Topic-name and topic-filter matching per MQTT 3.1.1 §4.7 (pure; table-tested). */

const SLASH = 47 // '/'
const PLUS = 43 // '+'
const HASH = 35 // '#'
const DOLLAR = 36 // '$'

/**
 * True when `topic` (a topic name) matches `filter`. Walks both strings by index without
 * splitting them: it runs for every delivery to a client with several subscriptions.
 */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'
  const f0 = filter.charCodeAt(0)
  if (topic.charCodeAt(0) === DOLLAR && (f0 === PLUS || f0 === HASH)) return false
  let fi = 0
  let ti = 0
  const fn = filter.length
  const tn = topic.length
  for (;;) {
    // At the start of a level in both strings.
    const fc = filter.charCodeAt(fi)
    if (fc === HASH) return true // also matches the parent level [MQTT-4.7.1-2]
    if (fc === PLUS) {
      fi++
      while (ti < tn && topic.charCodeAt(ti) !== SLASH) ti++
    } else {
      while (fi < fn && ti < tn) {
        const c = filter.charCodeAt(fi)
        if (c === SLASH || c !== topic.charCodeAt(ti)) break
        fi++
        ti++
      }
      const fEnd = fi === fn || filter.charCodeAt(fi) === SLASH
      const tEnd = ti === tn || topic.charCodeAt(ti) === SLASH
      if (!fEnd || !tEnd) return false
    }
    // Both at the end of a level.
    if (fi === fn) return ti === tn
    if (ti === tn) {
      // The topic ended; only a trailing "/#" can still match (the parent level).
      return filter.charCodeAt(fi) === SLASH && fi + 2 === fn && filter.charCodeAt(fi + 1) === HASH
    }
    fi++ // skip '/'
    ti++
  }
}
