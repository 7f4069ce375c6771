/**
 * The Traffic tab: live charts over the last 15 minutes, one line per hub in its colour —
 * messages in and out per second, inter-hub bytes per second (in solid, out dashed), drops and
 * replication lag — plus the busiest topics, and the membership timeline beside them (each
 * membership event also a vertical line on every chart, in the member's colour). History comes
 * from the stored rollups on load (`GET /api/v1/stats?sinceMs=`), then one point per hub per second.
 */
import type { HubStatsPoint, TimelineEvent } from '../../../../hub/src/contract/admin-api.js'
import { groupTimeline } from '../logic/timeline-groups.js'
import { SeriesSet, pollAnchorMs } from '../logic/series.js'
import { topTopics, type TopicNode } from '../logic/topic-tree.js'
import { compact, h, replaceChildren } from '../widgets/dom.js'
import type { HubColors } from '../widgets/hub-colors.js'
import { LineChart, type ChartSeries } from '../widgets/line-chart.js'
import { RenderThrottle } from '../widgets/render-throttle.js'
import { eventKey, timelineItems } from './timeline-list.js'

/** Window of the charts, ms (issue 6: the last 15 minutes). */
export const TRAFFIC_WINDOW_MS = 15 * 60_000
const TOP_TOPICS = 10
/** Timeline groups listed beside the charts (the Ring tab has the long list). */
const TIMELINE_GROUPS = 30
const TIMELINE_EVENTS = 500

type Metric = 'msgsInPerS' | 'msgsOutPerS' | 'interHubBytesInPerS' | 'interHubBytesOutPerS' | 'drops' | 'storeLagMs'

export class TrafficTab {
  readonly element: HTMLElement
  readonly #series = new SeriesSet(TRAFFIC_WINDOW_MS)
  readonly #hubs = new Set<string>()
  readonly #charts: Array<{ chart: LineChart, metrics: Array<{ metric: Metric, dashed?: boolean }> }>
  readonly #topTopics = h('tbody')
  readonly #timeline = h('ol', { class: 'timeline' })
  #events: TimelineEvent[] = []
  readonly #throttle: RenderThrottle
  /** Each hub's newest point (by its clock), for where the next poll starts (`pollAnchorMs`). */
  readonly #newestByHub = new Map<string, number>()

  constructor(private readonly colors: HubColors, private readonly topicTree: () => TopicNode, visible: () => boolean) {
    this.#throttle = new RenderThrottle(() => this.#render(), 2, visible)
    this.#charts = [
      { chart: new LineChart('Messages in /s', '/s'), metrics: [{ metric: 'msgsInPerS' }] },
      { chart: new LineChart('Messages out /s', '/s'), metrics: [{ metric: 'msgsOutPerS' }] },
      { chart: new LineChart('Inter-hub bytes /s (in solid, out dashed)', 'B/s'), metrics: [{ metric: 'interHubBytesInPerS' }, { metric: 'interHubBytesOutPerS', dashed: true }] },
      { chart: new LineChart('Drops per interval', ''), metrics: [{ metric: 'drops' }] },
      { chart: new LineChart('Replication lag (ms)', ' ms'), metrics: [{ metric: 'storeLagMs' }] },
    ]
    this.#charts.forEach(({ chart }, i) => chart.element.setAttribute('data-chart', ['msgs-in', 'msgs-out', 'inter-hub', 'drops', 'lag'][i] as string))
    this.element = h('section', { class: 'tab traffic-tab' },
      h('div', { class: 'charts' }, ...this.#charts.map((c) => c.chart.element)),
      h('div', { class: 'traffic-right' },
        h('div', { class: 'panel' }, h('h2', {}, 'Top topics (messages counted since each owner started)'),
          h('table', { class: 'top-topics' }, h('thead', {}, h('tr', {}, h('th', {}, 'topic'), h('th', {}, 'messages'), h('th', {}, 'last'))), this.#topTopics)),
        h('div', { class: 'panel' }, h('h2', {}, 'Membership timeline'), this.#timeline)))
  }

  /** Where a feed asks for what came after: the oldest of the hubs' newest points (`pollAnchorMs`, skewed clocks). */
  get lastPointMs(): number { return pollAnchorMs(this.#newestByHub) }

  addStats(points: readonly HubStatsPoint[]): void {
    for (const p of points) {
      this.#hubs.add(p.hub)
      for (const metric of ['msgsInPerS', 'msgsOutPerS', 'interHubBytesInPerS', 'interHubBytesOutPerS', 'drops', 'storeLagMs'] as const) {
        this.#series.add(`${p.hub}|${metric}`, p.tsMs, p[metric])
      }
      if (p.tsMs > (this.#newestByHub.get(p.hub) ?? 0)) this.#newestByHub.set(p.hub, p.tsMs)
    }
    this.#throttle.request()
  }

  /** Membership events (any order, duplicates ignored), as the Ring tab gets them. */
  addTimeline(events: readonly TimelineEvent[]): void {
    const seen = new Set(this.#events.map(eventKey))
    const fresh = events.filter((e) => !seen.has(eventKey(e)))
    if (fresh.length === 0) return
    this.#events = [...this.#events, ...fresh].sort((a, b) => b.tsMs - a.tsMs).slice(0, TIMELINE_EVENTS)
    this.#throttle.request()
  }

  /** Topic counts changed (the tree is shared with the Topics tab). */
  topicsChanged(): void { this.#throttle.request() }

  shown(): void { this.#throttle.now() }

  #render(): void {
    const now = Date.now()
    this.#series.trim(now)
    const hubs = [...this.#hubs].sort()
    // Membership changes, not ownership moves (one per change already): one line per grouped event.
    const markers = groupTimeline(this.#events).filter(({ event }) => event.type !== 'ownershipChanged')
      .map(({ event }) => ({ tsMs: event.tsMs, color: this.colors.colorOf(event.member) }))
    for (const { chart, metrics } of this.#charts) {
      const series: ChartSeries[] = []
      for (const hub of hubs) {
        for (const { metric, dashed } of metrics) {
          series.push({ name: dashed ? `${hub} out` : hub, color: this.colors.colorOf(hub), points: this.#series.get(`${hub}|${metric}`), dashed })
        }
      }
      chart.draw(series, now, markers)
    }
    replaceChildren(this.#topTopics, ...topTopics(this.topicTree(), TOP_TOPICS).map((n) => h('tr', { 'data-topic': n.topic, 'data-count': n.count },
      h('td', { class: 'topic' }, n.topic), h('td', { class: 'num' }, compact(n.count)),
      h('td', { class: 'payload' }, n.last ? n.last.payload.slice(0, 80) : ''))))
    replaceChildren(this.#timeline, ...timelineItems(this.#events, (hub) => this.colors.colorOf(hub), now, TIMELINE_GROUPS))
  }
}
