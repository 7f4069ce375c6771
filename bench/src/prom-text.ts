/**
 * Samples of a Prometheus text exposition (`/metrics`), keyed by series as written: the metric
 * name, then its labels in braces when it has any (`ringhub_router_events_total{event="forwarded"}`).
 * Comments, blank lines and samples whose value is not a number are skipped; a timestamp after
 * the value is ignored.
 */
export function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    // The series ends at the closing brace of the labels (label values may hold spaces), or at
    // the first space when there are no labels.
    const brace = line.indexOf('{')
    const end = brace >= 0 && brace < line.indexOf(' ') ? line.indexOf('} ', brace) + 1 : line.indexOf(' ')
    if (end <= 0) continue
    const value = Number(line.slice(end).trim().split(/\s+/)[0])
    if (!Number.isNaN(value)) samples.set(line.slice(0, end), value)
  }
  return samples
}

/** Router and inter-hub link counters of one hub, named as the JSON shows them. */
export const HUB_COUNTERS: Readonly<Record<string, string>> = {
  forwarded: 'ringhub_router_events_total{event="forwarded"}',
  sequenced: 'ringhub_router_events_total{event="sequenced"}',
  replicated: 'ringhub_router_events_total{event="replicated"}',
  deliveriesSent: 'ringhub_router_events_total{event="deliveriesSent"}',
  deliveriesDropped: 'ringhub_router_events_total{event="deliveriesDropped"}',
  deliveriesReceived: 'ringhub_router_events_total{event="deliveriesReceived"}',
  framesOut: 'ringhub_interhub_frames_total{direction="out"}',
  framesIn: 'ringhub_interhub_frames_total{direction="in"}',
  bytesOut: 'ringhub_interhub_bytes_total{direction="out"}',
  // SQLite group commits, and how many took at most 10 ms and 100 ms: a slow commit (a WAL
  // checkpoint on a busy disk) holds every acknowledgement behind it.
  commits: 'ringhub_store_commit_seconds_count',
  commitsWithin10ms: 'ringhub_store_commit_seconds_bucket{le="0.01"}',
  commitsWithin100ms: 'ringhub_store_commit_seconds_bucket{le="0.1"}',
}

/** The HUB_COUNTERS of one scrape; a series the hub has not exported yet counts 0. */
export function hubCounters(text: string): Record<string, number> {
  const samples = parseSamples(text)
  return Object.fromEntries(Object.entries(HUB_COUNTERS).map(([name, series]) => [name, samples.get(series) ?? 0]))
}
