/**
 * A live line chart on a canvas: named series over a sliding time window, y from 0 to the
 * window's maximum. Redrawn whole (a few thousand points at most), and only when its view asks,
 * which the view throttles. The canvas carries `data-points` (points drawn) and `data-latest`
 * (sum of each series' last value), and each legend item `data-series`, `data-last` and
 * `data-max` (its series' maximum in the window), so tests and scripts can tell that it moves.
 */
import type { Point } from '../logic/series.js'
import { compact, h } from './dom.js'

export interface ChartSeries {
  name: string
  color: string
  points: readonly Point[]
  dashed?: boolean
}

export class LineChart {
  readonly element: HTMLDivElement
  readonly #canvas: HTMLCanvasElement
  readonly #legend: HTMLDivElement

  constructor(readonly title: string, private readonly unit: string, public windowMs = 15 * 60_000) {
    this.#canvas = h('canvas', { class: 'chart-canvas' })
    this.#legend = h('div', { class: 'chart-legend' })
    this.element = h('div', { class: 'chart' }, h('div', { class: 'chart-title' }, title), this.#canvas, this.#legend)
  }

  /** `markers`: moments to mark with a vertical line (membership events), in their hub's colour. */
  draw(series: readonly ChartSeries[], nowMs: number, markers: ReadonlyArray<{ tsMs: number, color: string }> = []): void {
    const canvas = this.#canvas
    const dpr = globalThis.devicePixelRatio || 1
    const width = canvas.clientWidth || 400
    const height = canvas.clientHeight || 160
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr)
      canvas.height = Math.round(height * dpr)
    }
    const ctx = canvas.getContext('2d')
    if (!ctx) return
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, width, height)
    const left = 44
    const bottom = height - 16
    const from = nowMs - this.windowMs
    let max = 0
    for (const s of series) for (const p of s.points) if (p.tsMs >= from && p.value > max) max = p.value
    const top = niceCeiling(max)
    // Grid and labels: 0, half, top; minutes along the bottom.
    ctx.strokeStyle = '#ddd'
    ctx.fillStyle = '#666'
    ctx.font = '10px system-ui, sans-serif'
    ctx.lineWidth = 1
    for (const f of [0, 0.5, 1]) {
      const y = bottom - f * (bottom - 6)
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(width, y); ctx.stroke()
      ctx.fillText(compact(top * f), 2, y + 3)
    }
    // About six time labels, on whole multiples of 5 minutes.
    const stepMin = Math.max(5, Math.ceil(this.windowMs / 60_000 / 6 / 5) * 5)
    for (let m = 0; m <= this.windowMs / 60_000; m += stepMin) {
      const x = left + (1 - (m * 60_000) / this.windowMs) * (width - left)
      ctx.fillText(m === 0 ? 'now' : `-${m}m`, Math.min(x - 8, width - 24), height - 3)
    }
    const xOf = (ts: number): number => left + ((ts - from) / this.windowMs) * (width - left)
    const yOf = (v: number): number => bottom - (top === 0 ? 0 : v / top) * (bottom - 6)
    let marked = 0
    ctx.setLineDash([2, 3])
    for (const m of markers) {
      if (m.tsMs < from || m.tsMs > nowMs) continue
      const x = xOf(m.tsMs)
      ctx.strokeStyle = m.color
      ctx.beginPath(); ctx.moveTo(x, 6); ctx.lineTo(x, bottom); ctx.stroke()
      marked++
    }
    ctx.setLineDash([])
    canvas.dataset.markers = String(marked)
    let drawn = 0
    let latest = 0
    for (const s of series) {
      ctx.strokeStyle = s.color
      ctx.lineWidth = 1.5
      ctx.setLineDash(s.dashed ? [4, 3] : [])
      ctx.beginPath()
      let started = false
      for (const p of s.points) {
        if (p.tsMs < from) continue
        const x = xOf(p.tsMs)
        const y = yOf(p.value)
        if (started) ctx.lineTo(x, y)
        else { ctx.moveTo(x, y); started = true }
        drawn++
      }
      ctx.stroke()
      latest += s.points[s.points.length - 1]?.value ?? 0
    }
    ctx.setLineDash([])
    canvas.dataset.points = String(drawn)
    canvas.dataset.latest = String(latest)
    // Each legend item carries its series' last value and its maximum in the window.
    this.#legend.replaceChildren(...series.map((s) => h('span', { class: 'legend-item', 'data-series': s.name,
      'data-last': s.points[s.points.length - 1]?.value ?? 0, 'data-max': s.points.reduce((m, p) => (p.tsMs >= from && p.value > m ? p.value : m), 0) },
      h('span', { class: 'swatch', style: `background:${s.color}${s.dashed ? ';opacity:.6' : ''}` }),
      `${s.name} ${compact(s.points[s.points.length - 1]?.value ?? 0)}${this.unit}`)))
  }
}

/** 1, 2 or 5 × 10ⁿ at or above `v` (at least 1), for round axis labels. */
export function niceCeiling(v: number): number {
  if (!(v > 1)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}
