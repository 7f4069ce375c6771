/**
 * One topic's detail (right pane of the Topics tab): its stored history (newest first), the
 * selected message pretty-printed with a diff against the message before it, a chart of a
 * numeric field over the history, and export of the history as JSON lines or CSV.
 */
import type { TapMessage, TopicMessage } from '../../../../hub/src/contract/admin-api.js'
import type { AdminClient } from '../client/admin-client.js'
import { exportFileName, toCsv, toJsonLines } from '../logic/history-export.js'
import { jsonDiff, lineDiff, parseJson, prettyPayload } from '../logic/json-diff.js'
import { numericFields } from '../logic/numeric-fields.js'
import { h, replaceChildren } from '../widgets/dom.js'
import { LineChart } from '../widgets/line-chart.js'

/** Messages of a topic kept in the pane (history plus live). */
const HISTORY_LIMIT = 500

export class TopicDetail {
  readonly element: HTMLElement
  readonly #header = h('div', { class: 'detail-header' })
  readonly #list = h('ol', { class: 'history' })
  readonly #message = h('pre', { class: 'message' })
  readonly #diff = h('div', { class: 'diff' })
  readonly #field = h('select', { class: 'field-select', 'aria-label': 'numeric field' })
  readonly #chart = new LineChart('Numeric field', '')
  #topic = ''
  #messages: TopicMessage[] = []
  #selectedIndex = -1
  #loading = 0
  #reloadTimer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly client: AdminClient) {
    this.#field.addEventListener('change', () => this.#drawChart())
    const download = (kind: 'jsonl' | 'csv'): void => {
      const text = kind === 'jsonl' ? toJsonLines(this.#messages) : toCsv(this.#messages)
      const url = URL.createObjectURL(new Blob([text], { type: kind === 'jsonl' ? 'application/x-ndjson' : 'text/csv' }))
      const a = h('a', { href: url, download: exportFileName(this.#topic, kind) })
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    }
    this.element = h('div', { class: 'panel topic-detail' },
      this.#header,
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', class: 'export-jsonl', onclick: () => download('jsonl') }, 'Export JSON lines'),
        h('button', { type: 'button', class: 'export-csv', onclick: () => download('csv') }, 'Export CSV')),
      h('div', { class: 'detail-body' },
        h('div', { class: 'history-col' }, h('h3', {}, 'History'), this.#list),
        h('div', { class: 'message-col' }, h('h3', {}, 'Message'), this.#message, h('h3', {}, 'Diff against the previous message'), this.#diff)),
      h('div', { class: 'field-chart' }, h('label', {}, 'Chart field ', this.#field), this.#chart.element))
  }

  get topic(): string { return this.#topic }

  async show(topic: string): Promise<void> {
    this.#topic = topic
    this.#messages = []
    this.#selectedIndex = -1
    const loading = ++this.#loading
    this.#render()
    try {
      const res = await this.client.history(topic, HISTORY_LIMIT)
      if (loading !== this.#loading) return
      this.#messages = res.messages
      this.#selectedIndex = this.#messages.length - 1
    } catch (err) {
      if (loading !== this.#loading) return
      replaceChildren(this.#header, h('h2', {}, topic), h('span', { class: 'error' }, `history unavailable: ${(err as Error).message}`))
      return
    }
    this.#render()
  }

  /** A live message of the shown topic: appended (and selected, when the newest was). */
  addLive(m: TapMessage): void {
    if (m.topic !== this.#topic) return
    // The tap cuts big payloads; the stored history has them whole, so read it again instead.
    if (m.truncated) {
      clearTimeout(this.#reloadTimer)
      this.#reloadTimer = setTimeout(() => { void this.show(this.#topic) }, 1_000)
      return
    }
    const last = this.#messages[this.#messages.length - 1]
    if (last && m.epoch !== undefined && m.seq !== undefined && (last.epoch > m.epoch || (last.epoch === m.epoch && last.seq >= m.seq))) return
    const followNewest = this.#selectedIndex === this.#messages.length - 1
    this.#messages.push({ topic: m.topic, epoch: m.epoch ?? 0, seq: m.seq ?? 0, tsMs: m.tsMs, qos: m.qos, retain: m.retain, payload: m.payload, encoding: m.encoding })
    if (this.#messages.length > HISTORY_LIMIT) { this.#messages.shift(); this.#selectedIndex-- }
    if (followNewest) this.#selectedIndex = this.#messages.length - 1
    this.#render()
  }

  #render(): void {
    const msgs = this.#messages
    replaceChildren(this.#header, h('h2', { class: 'detail-topic' }, this.#topic || 'Select a topic'), this.#topic ? h('span', { class: 'summary' }, `${msgs.length} messages loaded`) : null)
    const items: HTMLElement[] = []
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i] as TopicMessage
      items.push(h('li', { class: i === this.#selectedIndex ? 'selected' : '', 'data-seq': m.seq, onclick: () => { this.#selectedIndex = i; this.#render() } },
        h('time', {}, new Date(m.tsMs).toLocaleTimeString()), ` #${m.epoch}:${m.seq} `, m.retain ? h('span', { class: 'retained' }, 'R') : null,
        h('span', { class: 'payload' }, m.encoding === 'base64' ? '(binary)' : m.payload.slice(0, 60))))
    }
    replaceChildren(this.#list, ...items)
    const selected = msgs[this.#selectedIndex]
    this.#message.textContent = selected ? (selected.encoding === 'base64' ? `(binary, base64) ${selected.payload}` : prettyPayload(selected.payload)) : ''
    this.#renderDiff(msgs[this.#selectedIndex - 1], selected)
    this.#renderFields()
  }

  #renderDiff(before: TopicMessage | undefined, after: TopicMessage | undefined): void {
    if (!after) { replaceChildren(this.#diff); return }
    if (!before) { replaceChildren(this.#diff, h('span', { class: 'muted' }, 'first message loaded: nothing to compare')); return }
    const a = parseJson(before.payload)
    const b = parseJson(after.payload)
    if (a && b) {
      const entries = jsonDiff(a.value, b.value)
      replaceChildren(this.#diff, entries.length === 0 ? h('span', { class: 'muted' }, 'identical') : h('table', { class: 'json-diff' },
        ...entries.map((e) => h('tr', { class: `diff-${e.kind}`, 'data-path': e.path },
          h('td', { class: 'path' }, e.path), h('td', { class: 'kind' }, e.kind),
          h('td', { class: 'before' }, e.kind === 'added' ? '' : JSON.stringify(e.before)),
          h('td', { class: 'after' }, e.kind === 'removed' ? '' : JSON.stringify(e.after))))))
      return
    }
    replaceChildren(this.#diff, h('pre', { class: 'line-diff' }, ...lineDiff(before.payload, after.payload).map((op) =>
      h('div', { class: `line-${op.op}` }, `${op.op === 'add' ? '+' : op.op === 'del' ? '-' : ' '} ${op.line}`))))
  }

  #renderFields(): void {
    const names = new Set<string>()
    for (const m of this.#messages.slice(-50)) for (const k of numericFields(m.payload).keys()) names.add(k)
    const current = this.#field.value
    if ([...this.#field.options].map((o) => o.value).join('|') !== [...names].join('|')) {
      replaceChildren(this.#field, ...[...names].map((n) => h('option', { value: n, selected: n === current }, n)))
    }
    this.#drawChart()
  }

  #drawChart(): void {
    const field = this.#field.value
    const points = field ? this.#messages.flatMap((m) => {
      const v = numericFields(m.payload).get(field)
      return v === undefined ? [] : [{ tsMs: m.tsMs, value: v }]
    }) : []
    const now = Date.now()
    // The window spans the loaded history (at least a minute), ending now.
    this.#chart.windowMs = Math.max(60_000, now - (points[0]?.tsMs ?? now))
    this.#chart.draw([{ name: field || 'no numeric field', color: '#4e79a7', points }], now)
  }
}
