/**
 * One device (right pane of the Devices tab): its state, its recent telemetry (the last value of
 * each of its topics) and a command panel that sends `POST /api/v1/devices/<id>/commands` and
 * shows the device's response, or the timeout.
 *
 * The telemetry is read once over HTTP, then kept live by a channel join of `devices/<id>/#`
 * (client/channel-link.ts): each message updates its row as it comes. Only when no channel is
 * available is the list re-read every 2 s instead. The status under the heading says which.
 */
import type { DeviceView } from '../../../../hub/src/contract/admin-api.js'
import type { AdminClient } from '../client/admin-client.js'
import { liveStatusText, type ChannelLink, type LiveJoin, type LiveState } from '../client/channel-link.js'
import { prettyPayload } from '../logic/json-diff.js'
import { TelemetryRows } from '../logic/telemetry-rows.js'
import { ago, h, replaceChildren } from '../widgets/dom.js'
import { RenderThrottle } from '../widgets/render-throttle.js'

/** How often the shown device's telemetry is re-read while no channel is available, ms. */
const TELEMETRY_REFRESH_MS = 2_000

export class DeviceDetail {
  readonly element: HTMLElement
  readonly #state = h('dl', { class: 'device-state' })
  readonly #telemetry = h('tbody')
  readonly #result = h('div', { class: 'cmd-result', role: 'status' })
  readonly #status = h('span', { class: 'live-status', role: 'status' })
  readonly #throttle = new RenderThrottle(() => this.#renderTelemetry(), 4)
  #device: DeviceView | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #rows = new TelemetryRows()
  #live: LiveJoin | undefined
  #liveState: LiveState = { kind: 'connecting' }
  /** Left while hidden: shown again, the telemetry is read and joined anew. */
  #hidden = false
  #reads = 0

  constructor(private readonly client: AdminClient, private readonly link: ChannelLink, private readonly openTopic: (topic: string) => void) {
    const name = h('input', { type: 'text', name: 'command', value: 'ping', class: 'cmd-name', 'aria-label': 'command name' })
    const args = h('textarea', { name: 'args', rows: 3, class: 'cmd-args', placeholder: 'arguments as JSON, e.g. {"ms": 100}', 'aria-label': 'command arguments' })
    const timeout = h('input', { type: 'number', name: 'timeoutMs', value: 5000, min: 100, max: 60000, step: 100, class: 'cmd-timeout', 'aria-label': 'timeout in ms' })
    const send = async (): Promise<void> => {
      const device = this.#device
      if (!device) return
      let parsedArgs: unknown = null
      if (args.value.trim()) {
        try {
          parsedArgs = JSON.parse(args.value)
        } catch {
          replaceChildren(this.#result, h('span', { class: 'error' }, 'arguments are not valid JSON'))
          return
        }
      }
      const timeoutMs = Number(timeout.value) || 5000
      replaceChildren(this.#result, `sending ${name.value} to ${device.id}…`)
      const started = performance.now()
      try {
        const answer = await this.client.command(device.id, name.value.trim(), parsedArgs, timeoutMs)
        const tookMs = Math.round(performance.now() - started)
        // The operator may have opened another device meanwhile (the same one is refreshed often).
        if (device.id !== this.#device?.id) return
        replaceChildren(this.#result, answer.ok
          ? h('div', { class: 'ok', 'data-outcome': 'ok' }, `response in ${tookMs} ms:`, h('pre', {}, JSON.stringify(answer.value, null, 2)))
          : h('div', { class: 'error', 'data-outcome': answer.error.code }, `${answer.error.code === 'timeout' ? 'timed out' : 'failed'} after ${tookMs} ms: ${answer.error.message}`))
      } catch (err) {
        replaceChildren(this.#result, h('div', { class: 'error', 'data-outcome': 'unreachable' }, `no answer from the hub: ${(err as Error).message}`))
      }
    }
    this.element = h('div', { class: 'panel device-detail' },
      h('h2', { class: 'device-title' }, 'Select a device'), this.#state,
      h('h3', {}, 'Recent telemetry ', this.#status), h('table', { class: 'telemetry' }, this.#telemetry),
      h('form', { class: 'command', onsubmit: (ev) => { ev.preventDefault(); void send() } },
        h('h3', {}, 'Command'), h('div', { class: 'row' }, name, timeout, h('button', { type: 'submit', class: 'cmd-send' }, 'Send')), args, this.#result))
  }

  get deviceId(): string | undefined { return this.#device?.id }

  show(device: DeviceView): void {
    const changedDevice = device.id !== this.#device?.id || this.#hidden
    this.#device = device
    this.#hidden = false
    const title = this.element.querySelector('.device-title')
    if (title) title.textContent = device.id
    replaceChildren(this.#state,
      h('dt', {}, 'status'), h('dd', {}, h('span', { class: `badge ${device.online ? 'online' : 'offline'}` }, device.online ? 'online' : 'offline')),
      h('dt', {}, device.online ? 'connected to' : 'last hub'), h('dd', {}, device.hub ?? '–'),
      h('dt', {}, 'owner hub'), h('dd', {}, device.owner),
      h('dt', {}, 'last seen'), h('dd', {}, ago(device.lastSeenMs, Date.now())),
      h('dt', {}, 'rate'), h('dd', {}, `${device.msgsPerS.toFixed(1)} msg/s`))
    if (changedDevice) {
      if (device.id !== this.#rowsOf) replaceChildren(this.#result)
      this.#follow(device.id)
    }
  }

  /** The Devices tab is hidden: leave the join and stop polling (shown again, read anew). */
  hidden(): void {
    if (this.#hidden) return
    this.#hidden = true
    this.#reads++ // a read under way shows nothing
    this.#live?.leave()
    this.#live = undefined
    clearInterval(this.#timer)
  }

  #rowsOf: string | undefined

  /** One HTTP read of the device's topics and a join of `devices/<id>/#`; polling only without a channel. */
  #follow(id: string): void {
    this.#live?.leave()
    clearInterval(this.#timer)
    this.#rows = new TelemetryRows()
    this.#rowsOf = id
    replaceChildren(this.#telemetry)
    this.#setLiveState({ kind: 'connecting' })
    void this.#read(id)
    this.#live = this.link.join(`devices/${id}/#`, {
      onMessage: (m) => { if (this.#rows.apply(m, Date.now())) this.#throttle.request() },
      onState: (s) => this.#setLiveState(s),
    })
    this.#timer = setInterval(() => {
      // Not on screen (the window hidden): skip; the next tick after showing reads.
      if (this.#liveState.kind === 'unavailable' && document.visibilityState !== 'hidden') void this.#read(id)
    }, TELEMETRY_REFRESH_MS)
  }

  async #read(id: string): Promise<void> {
    const read = ++this.#reads
    try {
      const { topics } = await this.client.topics(`devices/${id}/`, 200)
      if (read !== this.#reads || id !== this.#rowsOf) return
      this.#rows.setTopics(topics)
    } catch (err) {
      if (read !== this.#reads || id !== this.#rowsOf) return
      replaceChildren(this.#telemetry, h('tr', {}, h('td', { class: 'error' }, `telemetry unavailable: ${(err as Error).message}`)))
      return
    }
    this.#throttle.now()
  }

  #setLiveState(s: LiveState): void {
    this.#liveState = s
    this.#status.dataset.live = s.kind === 'unavailable' ? 'polling' : s.kind
    this.#status.title = s.kind === 'unavailable' ? s.reason : ''
    this.#status.textContent = liveStatusText(s, `polling every ${TELEMETRY_REFRESH_MS / 1000} s`)
  }

  #renderTelemetry(): void {
    const id = this.#rowsOf
    if (id === undefined) return
    const now = Date.now()
    const prefix = `devices/${id}/`
    replaceChildren(this.#telemetry, ...this.#rows.rows().map((t) => h('tr', { 'data-topic': t.topic },
      h('td', { class: 'topic' }, h('a', { href: '#topics', onclick: () => this.openTopic(t.topic) }, t.topic.slice(prefix.length))),
      h('td', { class: 'payload' }, t.encoding === 'base64' ? '(binary)' : prettyPayload(t.payload).slice(0, 200)),
      h('td', { class: 'when' }, ago(t.tsMs, now)))))
  }
}
