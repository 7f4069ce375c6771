/**
 * The Ring tab: the circle, a table of members (state badge, incarnation, keyspace share,
 * connections and message rates from the latest stats, and a Forget button on a dead hub), the
 * router links that are down, a key → owner lookup that highlights the owner and replicas, and
 * the membership timeline beside it.
 */
import type { HubStatsPoint, RingLinksResponse, TimelineEvent } from '../../../../hub/src/contract/admin-api.js'
import type { RingView as RingSnapshot } from '../../../../hub/src/contract/ring-view.js'
import type { AdminClient, OwnerAnswer } from '../client/admin-client.js'
import { downFor, linkSummary } from '../logic/link-problems.js'
import { hashPosition } from '../logic/ring-arcs.js'
import { compact, h, replaceChildren } from '../widgets/dom.js'
import type { HubColors } from '../widgets/hub-colors.js'
import { RenderThrottle } from '../widgets/render-throttle.js'
import { RingCircle } from './ring-circle.js'
import { eventKey, timelineItems } from './timeline-list.js'

/** Timeline entries kept (newest first). */
const TIMELINE_ENTRIES = 500
/** How long a first click on Forget waits for the second that confirms it, ms. */
const FORGET_CONFIRM_MS = 5_000

export class RingTab {
  readonly element: HTMLElement
  readonly #circle: RingCircle
  readonly #table = h('tbody')
  readonly #timeline = h('ol', { class: 'timeline' })
  readonly #lookupResult = h('div', { class: 'lookup-result' })
  readonly #forgetResult = h('div', { class: 'forget-result', 'aria-live': 'polite' })
  readonly #links = h('div', { class: 'router-links' })
  /** The last answer of `GET /api/v1/ring/links`, or why there is none. */
  #linkAnswer: RingLinksResponse | { error: string } | undefined
  /** When the answer came (this computer's clock). */
  #linkAnswerMs = 0
  /** The dead hub whose Forget was clicked once, until its confirmation is due (two clicks: no native dialog). */
  #forgetArmed: { hub: string, untilMs: number, timer: ReturnType<typeof setTimeout> } | undefined
  readonly #throttle: RenderThrottle
  #ring: RingSnapshot | undefined
  #stats = new Map<string, HubStatsPoint>()
  #events: TimelineEvent[] = []
  #lookup: OwnerAnswer | undefined
  #lookupTopic = ''
  #relookup: () => Promise<void> = async () => {}

  constructor(private readonly client: AdminClient, private readonly colors: HubColors, visible: () => boolean) {
    this.#circle = new RingCircle(colors, () => client.ringVnodes())
    this.#throttle = new RenderThrottle(() => this.#render(), 4, visible)
    const input = h('input', { type: 'text', placeholder: 'topic, e.g. devices/d42/telemetry', class: 'lookup-input', 'aria-label': 'topic to look up' })
    const lookup = async (): Promise<void> => {
      const topic = input.value.trim()
      this.#lookupTopic = topic
      if (!topic) { this.#lookup = undefined; this.#throttle.now(); return }
      try {
        this.#lookup = await this.client.ownerOf(topic)
      } catch (err) {
        this.#lookup = undefined
        replaceChildren(this.#lookupResult, h('span', { class: 'error' }, (err as Error).message))
        return
      }
      this.#throttle.now()
    }
    this.#relookup = lookup
    const form = h('form', { class: 'lookup', onsubmit: (ev) => { ev.preventDefault(); void lookup() } },
      input, h('button', { type: 'submit' }, 'Find owner'))
    this.element = h('section', { class: 'tab ring-tab' },
      h('div', { class: 'ring-left' },
        h('div', { class: 'panel' }, h('h2', {}, 'Ring'), this.#circle.element, form, this.#lookupResult),
        h('div', { class: 'panel' }, h('h2', {}, 'Hubs'), h('table', { class: 'hubs' },
          h('thead', {}, h('tr', {}, ...['hub', 'state', 'incarnation', 'share', 'connections', 'in/s', 'out/s', 'drops', 'address', ''].map((c) => h('th', {}, c)))),
          this.#table), this.#forgetResult),
        h('div', { class: 'panel' }, h('h2', {}, 'Router links'), this.#links)),
      h('div', { class: 'panel ring-right' }, h('h2', {}, 'Membership timeline'), this.#timeline))
  }

  get ring(): RingSnapshot | undefined { return this.#ring }

  setRing(ring: RingSnapshot): void {
    // Owners move when the set of key-owning hubs changes: ask again, or the answer shown is stale.
    const moved = this.#ring !== undefined && this.#ring.checksum !== ring.checksum
    this.#ring = ring
    if (moved && this.#lookupTopic) void this.#relookup()
    this.colors.assign(ring.members.map((m) => m.id))
    this.#throttle.request()
  }

  setStats(points: readonly HubStatsPoint[]): void {
    for (const p of points) {
      const prev = this.#stats.get(p.hub)
      if (!prev || prev.tsMs <= p.tsMs) this.#stats.set(p.hub, p)
    }
    this.#throttle.request()
  }

  /** Adds timeline events (any order, duplicates ignored), newest shown first. */
  addTimeline(events: readonly TimelineEvent[]): void {
    const seen = new Set(this.#events.map(eventKey))
    const fresh = events.filter((e) => !seen.has(eventKey(e)))
    if (fresh.length === 0) return
    this.#events = [...this.#events, ...fresh].sort((a, b) => b.tsMs - a.tsMs).slice(0, TIMELINE_ENTRIES)
    this.#throttle.request()
  }

  /** Every hub's router links, or the error asking for them gave (a hub before them answers 404). */
  setLinks(answer: RingLinksResponse | { error: string }): void {
    this.#linkAnswer = answer
    this.#linkAnswerMs = Date.now()
    this.#throttle.request()
  }

  shown(): void { this.#throttle.now() }

  #render(): void {
    const ring = this.#ring
    if (!ring) return
    const lookup = this.#lookup
    const highlight = lookup ? lookup.replicas : []
    this.#circle.draw(ring, highlight, lookup?.key ? hashPosition(lookup.key) / 2 ** 32 : undefined)
    const now = Date.now()
    replaceChildren(this.#table, ...ring.members.map((m) => {
      const s = this.#stats.get(m.id)
      // Stats of a hub that stopped reporting are stale: show them only while recent.
      const fresh = s && now - s.tsMs < 10_000 && (m.state === 'alive' || m.state === 'suspect')
      const role = lookup?.owner === m.id ? 'owner' : lookup?.replicas.includes(m.id) ? 'replica' : ''
      return h('tr', { 'data-hub': m.id, 'data-state': m.state, 'data-share': m.share, 'data-incarnation': m.incarnation, class: role ? `hl-${role}` : '' },
        h('td', {}, h('span', { class: 'swatch', style: `background:${this.colors.colorOf(m.id)}` }), m.id,
          m.id === ring.self ? h('span', { class: 'tag' }, 'this hub') : null, role ? h('span', { class: `tag ${role}` }, role) : null,
          m.meta.role === 'observer' ? h('span', { class: 'tag' }, 'observer') : null),
        h('td', {}, h('span', { class: `badge state-${m.state}` }, m.state)),
        h('td', { class: 'num' }, m.incarnation),
        h('td', { class: 'num' }, `${(m.share * 100).toFixed(1)}%`),
        h('td', { class: 'num', 'data-stat': 'connections' }, fresh ? compact(s.connections) : '–'),
        h('td', { class: 'num', 'data-stat': 'msgs-in' }, fresh ? compact(s.msgsInPerS) : '–'),
        h('td', { class: 'num', 'data-stat': 'msgs-out' }, fresh ? compact(s.msgsOutPerS) : '–'),
        h('td', { class: 'num', 'data-stat': 'drops' }, fresh ? compact(s.drops) : '–'),
        h('td', { class: 'addr' }, m.addresses.mqtt ?? m.addresses.gossip),
        h('td', {}, m.state === 'dead' && m.id !== ring.self ? this.#forgetButton(m.id, now) : null))
    }))
    const total = ring.members.reduce((sum, m) => sum + m.share, 0)
    this.#table.append(h('tr', { class: 'total' }, h('td', {}, 'total'), h('td', {}), h('td', {}),
      h('td', { class: 'num', 'data-total-share': total }, `${(total * 100).toFixed(1)}%`), h('td', {}), h('td', {}), h('td', {}), h('td', {}), h('td', {}), h('td', {})))
    if (lookup) {
      replaceChildren(this.#lookupResult, h('span', {}, `key ${lookup.key ?? '(local $ topic)'} → owner `),
        h('strong', { 'data-owner': lookup.owner ?? '' }, lookup.owner ?? 'none'),
        lookup.replicas.length > 1 ? `, replicas ${lookup.replicas.slice(1).join(', ')}` : '')
    }
    this.#renderLinks(now)
    replaceChildren(this.#timeline, ...timelineItems(this.#events, (hub) => this.colors.colorOf(hub), now))
  }

  /** The links down (from → to, for how long), else how many are up. */
  #renderLinks(now: number): void {
    const answer = this.#linkAnswer
    if (answer === undefined) return
    if ('error' in answer) {
      replaceChildren(this.#links, h('span', { class: 'muted', 'data-links-error': '' }, `router links unknown: ${answer.error}`))
      return
    }
    const { down, up, reporting } = linkSummary(answer, now - this.#linkAnswerMs)
    const header = h('p', { class: down.length > 0 ? 'error' : '', 'data-links-up': up, 'data-links-down': down.length },
      down.length > 0
        ? `${down.length} router link${down.length === 1 ? '' : 's'} down: messages of keys owned across them stall`
        : `all ${up} router links up (${reporting} hub${reporting === 1 ? '' : 's'} reporting)`)
    replaceChildren(this.#links, header, down.length > 0
      ? h('ul', {}, ...down.map((l) => h('li', { 'data-link': `${l.from}>${l.to}` },
        h('span', { class: 'swatch', style: `background:${this.colors.colorOf(l.from)}` }), `${l.from} → ${l.to} down for ${downFor(l.forMs)}`)))
      : null)
  }

  /**
   * Forget (docs/admin-api.md "Forget a dead hub", `ringhub ring forget`): the first click arms it
   * for FORGET_CONFIRM_MS and asks to click again; the second asks this hub to count the dead hub
   * as left. The answer (or the hub's refusal: it came back meanwhile, no permission) shows below
   * the table; the row follows the ring update.
   */
  #forgetButton(hub: string, now: number): HTMLElement {
    const armed = this.#forgetArmed?.hub === hub && now < this.#forgetArmed.untilMs
    return h('button', {
      class: armed ? 'forget armed' : 'forget', 'data-forget': hub,
      title: 'Count this dead hub as left everywhere, so the ring stops waiting for it. Make sure it is really down.',
      onclick: () => { void this.#forget(hub) },
    }, armed ? `Click again to forget ${hub}` : 'Forget')
  }

  async #forget(hub: string): Promise<void> {
    const armed = this.#forgetArmed
    if (armed) clearTimeout(armed.timer)
    this.#forgetArmed = undefined
    if (armed?.hub !== hub || Date.now() >= armed.untilMs) {
      // Rendered again once the confirmation is no longer due, so the button says Forget again.
      this.#forgetArmed = { hub, untilMs: Date.now() + FORGET_CONFIRM_MS, timer: setTimeout(() => { this.#forgetArmed = undefined; this.#throttle.now() }, FORGET_CONFIRM_MS) }
      replaceChildren(this.#forgetResult)
      this.#throttle.now()
      return
    }
    this.#throttle.now()
    replaceChildren(this.#forgetResult, h('span', {}, `forgetting ${hub}…`))
    try {
      const answer = await this.client.forget(hub)
      replaceChildren(this.#forgetResult, h('span', { 'data-forgot': answer.member }, `${answer.member} counts as left now (was ${answer.was}); the other hubs learn it by gossip`))
    } catch (err) {
      replaceChildren(this.#forgetResult, h('span', { class: 'error', 'data-forget-error': hub }, `could not forget ${hub}: ${(err as Error).message}`))
    }
  }
}
