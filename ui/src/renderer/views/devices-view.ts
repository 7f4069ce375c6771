/**
 * The Devices tab: a searchable, virtualized list (status, connected hub, owner hub, last seen,
 * rate) that stays fast with thousands of devices, and the selected device's detail. Loaded from
 * `GET /api/v1/devices`; the `devices` channel then sends only the devices that changed.
 */
import type { DeviceView } from '../../../../hub/src/contract/admin-api.js'
import type { AdminClient } from '../client/admin-client.js'
import type { ChannelLink } from '../client/channel-link.js'
import { ago, compact, h, replaceChildren } from '../widgets/dom.js'
import { RenderThrottle } from '../widgets/render-throttle.js'
import { VirtualList } from '../widgets/virtual-list.js'
import { DeviceDetail } from './device-detail.js'

const ROW_HEIGHT_PX = 26
/** Quiet time after typing before the hub is asked, ms. */
const SEARCH_DEBOUNCE_MS = 250

export class DevicesTab {
  readonly element: HTMLElement
  readonly #devices = new Map<string, DeviceView>()
  readonly #list: VirtualList<DeviceView>
  readonly #detail: DeviceDetail
  readonly #summary = h('span', { class: 'summary' })
  readonly #throttle: RenderThrottle
  #search = ''
  #total = 0
  #selected: string | undefined
  #searchTimer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly client: AdminClient, link: ChannelLink, openTopic: (topic: string) => void, visible: () => boolean) {
    this.#detail = new DeviceDetail(client, link, openTopic)
    const search = h('input', { type: 'search', placeholder: 'search devices', class: 'device-search', 'aria-label': 'search devices' })
    search.addEventListener('input', () => {
      this.#search = search.value.trim().toLowerCase()
      this.#throttle.now()
      clearTimeout(this.#searchTimer)
      this.#searchTimer = setTimeout(() => { void this.#searchHub() }, SEARCH_DEBOUNCE_MS)
    })
    const listEl = h('div', { class: 'device-list' })
    this.#list = new VirtualList(listEl, ROW_HEIGHT_PX, (d) => this.#row(d))
    this.#throttle = new RenderThrottle(() => this.#render(), 4, visible)
    this.element = h('section', { class: 'tab devices-tab' },
      h('div', { class: 'panel devices-panel' }, h('div', { class: 'toolbar' }, search, this.#summary),
        h('div', { class: 'device-head' }, ...['', 'device', 'connected to', 'owner', 'last seen', 'msg/s'].map((c) => h('span', {}, c))),
        listEl),
      this.#detail.element)
  }

  /** Replaces the list with the hub's answer. */
  async reload(): Promise<void> {
    const res = await this.client.devices()
    this.#devices.clear()
    for (const d of res.devices) this.#devices.set(d.id, d)
    this.#total = res.total
    this.#throttle.request()
  }

  /** Devices that changed (the `devices` channel). */
  update(devices: readonly DeviceView[]): void {
    for (const d of devices) {
      if (!this.#devices.has(d.id)) this.#total++
      this.#devices.set(d.id, d)
    }
    this.#throttle.request()
  }

  shown(): void { this.#throttle.now() }

  /** Off screen: the device detail leaves its channel join. */
  hidden(): void { this.#detail.hidden() }

  /**
   * The hub answers at most 1000 devices a request: when the ring has more than the list holds,
   * a search also asks the hub, so every device can be found.
   */
  async #searchHub(): Promise<void> {
    const needle = this.#search
    if (!needle || this.#total <= this.#devices.size) return
    try {
      const res = await this.client.devices(needle)
      for (const d of res.devices) this.#devices.set(d.id, d)
      this.#throttle.request()
    } catch {
      // The list keeps what it has; the feeds report the hub's state in the status line.
    }
  }

  #render(): void {
    const all = [...this.#devices.values()]
    const rows = (this.#search ? all.filter((d) => matches(d, this.#search)) : all)
      .sort((a, b) => Number(b.online) - Number(a.online) || collator.compare(a.id, b.id))
    this.#list.setItems(rows)
    const online = all.filter((d) => d.online).length
    const partial = this.#total > all.length ? ` (${all.length} loaded: search to find the others)` : ''
    replaceChildren(this.#summary, `${rows.length} shown · ${online} online · ${this.#total} in the ring${partial}`)
    const selected = this.#selected === undefined ? undefined : this.#devices.get(this.#selected)
    if (selected) this.#detail.show(selected)
  }

  #row(d: DeviceView): HTMLElement {
    const now = Date.now()
    return h('div', { class: `device-row${d.id === this.#selected ? ' selected' : ''}`, 'data-device': d.id, 'data-online': String(d.online),
      onclick: () => { this.#selected = d.id; this.#throttle.now() } },
    h('span', { class: `dot ${d.online ? 'online' : 'offline'}`, title: d.online ? 'online' : 'offline' }),
    h('span', { class: 'id' }, d.id), h('span', {}, d.hub ?? '–'), h('span', {}, d.owner),
    h('span', { class: 'last-seen', 'data-last-seen-ms': d.lastSeenMs }, ago(d.lastSeenMs, now)),
    h('span', { class: 'num rate', 'data-rate': d.msgsPerS }, compact(d.msgsPerS)))
  }
}

const collator = new Intl.Collator('en', { numeric: true })

function matches(d: DeviceView, needle: string): boolean {
  return d.id.toLowerCase().includes(needle) || (d.hub ?? '').toLowerCase().includes(needle) || d.owner.toLowerCase().includes(needle)
    || (needle === 'online' && d.online) || (needle === 'offline' && !d.online)
}
