/**
 * Publish a message into the ring (`POST /api/v1/publish`): topic, payload, QoS 0/1 and retain,
 * as in MQTT Explorer's publish pane. The result line says when the owner acknowledged it.
 */
import type { AdminClient } from '../client/admin-client.js'
import { h, replaceChildren } from '../widgets/dom.js'

export class PublishPanel {
  readonly element: HTMLElement
  readonly #topic = h('input', { type: 'text', name: 'topic', placeholder: 'topic', class: 'pub-topic', 'aria-label': 'publish topic' })
  readonly #result = h('div', { class: 'pub-result', role: 'status' })

  constructor(private readonly client: AdminClient) {
    const payload = h('textarea', { name: 'payload', rows: 4, placeholder: '{"hello": "device"}', class: 'pub-payload', 'aria-label': 'payload' })
    const qos = h('select', { name: 'qos', class: 'pub-qos', 'aria-label': 'QoS' }, h('option', { value: '0' }, 'QoS 0'), h('option', { value: '1', selected: true }, 'QoS 1'))
    const retain = h('input', { type: 'checkbox', name: 'retain', class: 'pub-retain' })
    const send = async (): Promise<void> => {
      const topic = this.#topic.value.trim()
      if (!topic || /[+#]/.test(topic)) {
        replaceChildren(this.#result, h('span', { class: 'error' }, 'a topic without wildcards is needed'))
        return
      }
      replaceChildren(this.#result, 'publishing…')
      const started = performance.now()
      try {
        await this.client.publish({ topic, payload: payload.value, qos: qos.value === '0' ? 0 : 1, retain: retain.checked })
        replaceChildren(this.#result, h('span', { class: 'ok' }, `published to ${topic} (${qos.value === '0' ? 'sent' : 'acknowledged by the owner'} in ${Math.round(performance.now() - started)} ms)`))
      } catch (err) {
        replaceChildren(this.#result, h('span', { class: 'error' }, `not published: ${(err as Error).message}`))
      }
    }
    this.element = h('form', { class: 'panel publish', onsubmit: (ev) => { ev.preventDefault(); void send() } },
      h('h3', {}, 'Publish'), this.#topic, payload,
      h('div', { class: 'row' }, qos, h('label', {}, retain, ' retain'), h('button', { type: 'submit', class: 'pub-send' }, 'Publish')),
      this.#result)
  }

  /** Prefills the topic (the selected one) unless the operator is typing another. */
  setTopic(topic: string): void {
    if (document.activeElement !== this.#topic) this.#topic.value = topic
  }
}
