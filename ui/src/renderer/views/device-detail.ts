/**
 * One device (right pane of the Devices tab): its state, its recent telemetry (the last value of
 * each of its topics, refreshed while shown) and a command panel that sends
 * `POST /api/v1/devices/<id>/commands` and shows the device's response, or the timeout.
 */
import type { DeviceView, TopicView } from '../../../../hub/src/contract/admin-api.js'
import type { AdminClient } from '../client/admin-client.js'
import { prettyPayload } from '../logic/json-diff.js'
import { ago, h, replaceChildren } from '../widgets/dom.js'

/** How often the shown device's telemetry is re-read, ms. */
const TELEMETRY_REFRESH_MS = 2_000

export class DeviceDetail {
  readonly element: HTMLElement
  readonly #state = h('dl', { class: 'device-state' })
  readonly #telemetry = h('tbody')
  readonly #result = h('div', { class: 'cmd-result', role: 'status' })
  #device: DeviceView | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(private readonly client: AdminClient, private readonly openTopic: (topic: string) => void) {
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
      h('h3', {}, 'Recent telemetry'), h('table', { class: 'telemetry' }, this.#telemetry),
      h('form', { class: 'command', onsubmit: (ev) => { ev.preventDefault(); void send() } },
        h('h3', {}, 'Command'), h('div', { class: 'row' }, name, timeout, h('button', { type: 'submit', class: 'cmd-send' }, 'Send')), args, this.#result))
  }

  get deviceId(): string | undefined { return this.#device?.id }

  show(device: DeviceView): void {
    const changedDevice = device.id !== this.#device?.id
    this.#device = device
    const title = this.element.querySelector('.device-title')
    if (title) title.textContent = device.id
    replaceChildren(this.#state,
      h('dt', {}, 'status'), h('dd', {}, h('span', { class: `badge ${device.online ? 'online' : 'offline'}` }, device.online ? 'online' : 'offline')),
      h('dt', {}, device.online ? 'connected to' : 'last hub'), h('dd', {}, device.hub ?? '–'),
      h('dt', {}, 'owner hub'), h('dd', {}, device.owner),
      h('dt', {}, 'last seen'), h('dd', {}, ago(device.lastSeenMs, Date.now())),
      h('dt', {}, 'rate'), h('dd', {}, `${device.msgsPerS.toFixed(1)} msg/s`))
    if (changedDevice) {
      replaceChildren(this.#result)
      replaceChildren(this.#telemetry)
      clearInterval(this.#timer)
      void this.#refreshTelemetry()
      this.#timer = setInterval(() => { void this.#refreshTelemetry() }, TELEMETRY_REFRESH_MS)
    }
  }

  async #refreshTelemetry(): Promise<void> {
    const device = this.#device
    // Not on screen (another tab, or the window hidden): skip; the next tick after showing reads.
    if (!device || this.element.offsetParent === null || document.visibilityState === 'hidden') return
    let topics: TopicView[]
    try {
      topics = (await this.client.topics(`devices/${device.id}/`, 200)).topics
    } catch (err) {
      replaceChildren(this.#telemetry, h('tr', {}, h('td', { class: 'error' }, `telemetry unavailable: ${(err as Error).message}`)))
      return
    }
    if (device.id !== this.#device?.id) return
    const now = Date.now()
    replaceChildren(this.#telemetry, ...topics.sort((a, b) => b.lastTsMs - a.lastTsMs).map((t) => h('tr', { 'data-topic': t.topic },
      h('td', { class: 'topic' }, h('a', { href: '#topics', onclick: () => this.openTopic(t.topic) }, t.topic.slice(`devices/${device.id}/`.length))),
      h('td', { class: 'payload' }, t.encoding === 'base64' ? '(binary)' : prettyPayload(t.lastPayload).slice(0, 200)),
      h('td', { class: 'when' }, ago(t.lastTsMs, now)))))
  }
}
