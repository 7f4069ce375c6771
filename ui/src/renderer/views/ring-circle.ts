/**
 * The ring as a circle (SVG): each key-owning hub's arcs in its colour, clockwise from the top at
 * hash 0, and optionally a marker where a looked-up key hashes. Each arc path carries
 * `data-owner`, and the svg `data-exact` (whether the arcs are the hub's own, see ring-arcs.ts).
 */
import type { RingView, RingVnodesView } from '../../../../hub/src/contract/ring-view.js'
import { ringArcs, type RingArcs } from '../logic/ring-arcs.js'
import type { HubColors } from '../widgets/hub-colors.js'
import { svg } from '../widgets/dom.js'

const SIZE = 320
const CENTER = SIZE / 2
const RADIUS = 120
const WIDTH = 30
const INNER_RADIUS = 92
const INNER_WIDTH = 10

export class RingCircle {
  readonly element: SVGSVGElement
  #arcs: RingArcs | undefined
  #checksum = ''
  /** The checksum whose vnode positions were asked of the hub (once per ring). */
  #askedFor = ''
  #last: Parameters<RingCircle['draw']> | undefined

  /**
   * `fetchVnodes` (`GET /api/v1/ring/vnodes`): asked when the placement computed here is not
   * the hub's (a hub built with other ring settings), so the circle still shows the hub's arcs.
   */
  constructor(private readonly colors: HubColors, private readonly fetchVnodes?: () => Promise<RingVnodesView>) {
    this.element = svg('svg', { class: 'ring-circle', viewBox: `0 0 ${SIZE} ${SIZE}`, role: 'img', 'aria-label': 'ring ownership' })
  }

  /**
   * Redraws for `view`; `highlight` (owner and replicas of a looked-up key) dims the other hubs,
   * `markerFraction` marks the key's position.
   */
  draw(view: RingView, highlight: readonly string[] = [], markerFraction?: number): void {
    // The md5 placement costs ~N·100 digests: redo it only when the owning set changed.
    this.#last = [view, highlight, markerFraction]
    if (!this.#arcs || this.#checksum !== view.checksum) {
      this.#arcs = ringArcs(view)
      this.#checksum = view.checksum
      if (!this.#arcs.exact) this.#askHub(view.checksum)
    }
    const { arcs, exact } = this.#arcs
    const el = this.element
    el.dataset.exact = String(exact)
    el.dataset.checksum = view.checksum
    const children: SVGElement[] = [svg('circle', { cx: CENTER, cy: CENTER, r: RADIUS, class: 'ring-track', 'stroke-width': WIDTH })]
    for (const a of arcs) {
      const dim = highlight.length > 0 && !highlight.includes(a.owner)
      children.push(svg('path', {
        d: arcPath(a.start, a.end), stroke: this.colors.colorOf(a.owner), 'stroke-width': WIDTH, fill: 'none',
        class: dim ? 'arc dim' : 'arc', 'data-owner': a.owner,
      }))
    }
    // Inner ring: each hub's share as one sector, the at-a-glance picture the interleaved
    // vnodes of the outer ring cannot give.
    let from = 0
    for (const [owner, share] of [...this.#arcs.shares].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (share <= 0) continue
      children.push(svg('path', { d: arcPath(from, from + share, INNER_RADIUS), stroke: this.colors.colorOf(owner), 'stroke-width': INNER_WIDTH, fill: 'none', class: 'share-sector', 'data-owner': owner },
        svg('title', {}, `${owner}: ${(share * 100).toFixed(1)}% of the keyspace`)))
      from += share
    }
    if (markerFraction !== undefined) {
      const [x1, y1] = polar(markerFraction, RADIUS - WIDTH / 2 - 8)
      const [x2, y2] = polar(markerFraction, RADIUS + WIDTH / 2 + 8)
      children.push(svg('line', { x1, y1, x2, y2, class: 'ring-marker' }))
    }
    const owners = new Set(arcs.map((a) => a.owner)).size
    children.push(svg('text', { x: CENTER, y: CENTER - 4, class: 'ring-center' }, `${owners} hub${owners === 1 ? '' : 's'} own keys`))
    children.push(svg('text', { x: CENTER, y: CENTER + 14, class: 'ring-center small' }, `checksum ${view.checksum}${exact ? '' : ' (arcs approximate)'}`))
    el.replaceChildren(...children)
  }

  #askHub(checksum: string): void {
    if (!this.fetchVnodes || this.#askedFor === checksum) return
    this.#askedFor = checksum
    this.fetchVnodes().then((vnodes) => {
      const last = this.#last
      // Only for the ring still shown; a newer ring asks again.
      if (!last || vnodes.checksum !== this.#checksum || last[0].checksum !== vnodes.checksum) return
      this.#arcs = ringArcs(last[0], vnodes)
      this.draw(...last)
    }, () => { /* an older hub without the route: the computed arcs stay, marked approximate */ })
  }
}

/** The point at keyspace fraction `f` (0 at the top, clockwise) on a circle of radius `r`. */
function polar(f: number, r: number): [number, number] {
  const angle = f * 2 * Math.PI - Math.PI / 2
  return [round(CENTER + r * Math.cos(angle)), round(CENTER + r * Math.sin(angle))]
}

function arcPath(start: number, end: number, r = RADIUS): string {
  // A full circle cannot be one arc command: split it in two halves.
  if (end - start >= 0.999999) return `${arcPath(0, 0.5, r)} ${arcPath(0.5, 1, r)}`
  const [x1, y1] = polar(start, r)
  const [x2, y2] = polar(end, r)
  const large = end - start > 0.5 ? 1 : 0
  return `M ${x1} ${y1} A ${r} ${r} 0 ${large} 1 ${x2} ${y2}`
}

function round(n: number): number { return Math.round(n * 100) / 100 }
