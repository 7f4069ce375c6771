/**
 * One topic's detail (right pane of the Topics tab): its stored history (newest first), the
 * selected message pretty-printed with a diff against the message before it, a chart of a
 * numeric field over the history, and export of the history as JSON lines or CSV.
 *
 * Live messages: the history is continued by a channel join of the topic from the newest loaded
 * offset (`since`), so every message follows, in order, also across a hub failover
 * (client/channel-link.ts). Only when no channel is available does it take the sampled tap's
 * messages, which skip some on a busy topic. The status beside the title says which.
 */
import type { TapMessage } from '../../../../hub/src/contract/admin-api.js'
import type { ChannelMessage } from '../../../../hub/src/contract/channels.js'
import type { AdminClient } from '../client/admin-client.js'
import { liveStatusText, type ChannelLink, type LiveJoin, type LiveState } from '../client/channel-link.js'
import { exportFileName, toCsv, toJsonLines } from '../logic/history-export.js'
import { jsonDiff, lineDiff, parseJson, prettyPayload } from '../logic/json-diff.js'
import { appendInOrder, fromChannel, newestOffset, type ShownMessage } from '../logic/live-messages.js'
import { numericFields } from '../logic/numeric-fields.js'
import { h, replaceChildren } from '../widgets/dom.js'
import { LineChart } from '../widgets/line-chart.js'
import { RenderThrottle } from '../widgets/render-throttle.js'

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
  readonly #status = h('span', { class: 'live-status', role: 'status' })
  readonly #throttle = new RenderThrottle(() => this.#render(), 8)
  #topic = ''
  #messages: ShownMessage[] = []
  #selectedIndex = -1
  #loading = 0
  #reloadTimer: ReturnType<typeof setTimeout> | undefined
  #live: LiveJoin | undefined
  #liveState: LiveState = { kind: 'connecting' }
  /** Left while hidden: shown again, the topic is read and joined anew. */
  #hidden = false

  constructor(private readonly client: AdminClient, private readonly link: ChannelLink) {
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

  /** Shows `topic`: its stored history, then live messages from the newest loaded one on. */
  async show(topic: string): Promise<void> {
    this.#leave()
    this.#hidden = false
    this.#topic = topic
    this.#messages = []
    this.#selectedIndex = -1
    clearTimeout(this.#reloadTimer)
    const loading = ++this.#loading
    this.#setLiveState({ kind: 'connecting' })
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
    // Joined after the history is read, from its newest message: the log fills what came between.
    this.#live = this.link.join(topic, {
      since: () => newestOffset(this.#messages),
      onMessage: (m) => this.#onChannel(m),
      onState: (s) => this.#setLiveState(s),
    })
  }

  /** The Topics tab is hidden: leave the join (shown again, the topic is read anew). */
  hidden(): void {
    if (!this.#topic || this.#hidden) return
    this.#hidden = true
    ++this.#loading // a history read under way joins nothing
    this.#leave()
  }

  /** The Topics tab is shown again. */
  shown(): void {
    if (this.#hidden && this.#topic) void this.show(this.#topic)
  }

  /**
   * A message of the sampled tap: used only while no channel is available (the channel brings
   * every message; the tap's would only race it).
   */
  addLive(m: TapMessage): void {
    if (m.topic !== this.#topic || this.#hidden || this.#liveState.kind !== 'unavailable') return
    // The tap cuts big payloads; the stored history has them whole, so read it again instead.
    if (m.truncated) {
      clearTimeout(this.#reloadTimer)
      this.#reloadTimer = setTimeout(() => { void this.show(this.#topic) }, 1_000)
      return
    }
    if (m.epoch === undefined || m.seq === undefined) return
    this.#append({ topic: m.topic, epoch: m.epoch, seq: m.seq, tsMs: m.tsMs, qos: m.qos, retain: m.retain, payload: m.payload, encoding: m.encoding })
  }

  #onChannel(m: ChannelMessage): void {
    if (m.topic !== this.#topic) return
    const shown = fromChannel(m, Date.now())
    if (shown) this.#append(shown)
  }

  /** Appends a live message (and selects it, when the newest was selected); redrawn at most 8 times a second. */
  #append(m: ShownMessage): void {
    const followNewest = this.#selectedIndex === this.#messages.length - 1
    const dropped = appendInOrder(this.#messages, m, HISTORY_LIMIT)
    if (dropped < 0) return
    this.#selectedIndex = followNewest ? this.#messages.length - 1 : Math.max(-1, this.#selectedIndex - dropped)
    this.#throttle.request()
  }

  #leave(): void {
    this.#live?.leave()
    this.#live = undefined
  }

  #setLiveState(s: LiveState): void {
    this.#liveState = s
    this.#status.dataset.live = s.kind === 'unavailable' ? 'tap' : s.kind
    this.#status.title = s.kind === 'unavailable' ? s.reason : ''
    this.#status.textContent = liveStatusText(s, 'live via sampled tap')
  }

  #render(): void {
    const msgs = this.#messages
    replaceChildren(this.#header, h('h2', { class: 'detail-topic' }, this.#topic || 'Select a topic'),
      this.#topic ? h('span', { class: 'summary' }, `${msgs.length} messages loaded`) : null, this.#topic ? this.#status : null)
    const items: HTMLElement[] = []
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i] as ShownMessage
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

  #renderDiff(before: ShownMessage | undefined, after: ShownMessage | undefined): void {
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
