/**
 * The Topics tab: the live topic tree on the left; the selected topic's history, diff, chart and
 * export, and the publish panel, on the right. The tree is loaded from `GET /api/v1/topics` (every
 * page, topic-pages.ts) and kept live by the sampled tap (`#`): a ring-wide overview, for which a
 * bounded sample is the right tool; the full list is re-read now and then because the tap's
 * counts fall behind under load. The selected topic's messages come over a channel instead
 * (topic-detail.ts), every one of them.
 */
import type { TapMessage, TopicsResponse } from '../../../../hub/src/contract/admin-api.js'
import type { AdminClient } from '../client/admin-client.js'
import type { ChannelLink } from '../client/channel-link.js'
import { readAllTopics, TOPIC_PAGE_SIZE } from '../client/topic-pages.js'
import { applyTapMessage, withTopicList, type TopicNode } from '../logic/topic-tree.js'
import { h } from '../widgets/dom.js'
import { RenderThrottle } from '../widgets/render-throttle.js'
import { PublishPanel } from './publish-panel.js'
import { TopicDetail } from './topic-detail.js'
import { TopicTreePanel } from './topic-tree-panel.js'

/** Most topics the tree reads from the hub (5 hubs' worth of the hub's 20,000 each); the tap adds more. */
const MAX_TREE_TOPICS = 100_000

export class TopicsTab {
  readonly element: HTMLElement
  readonly #tree: TopicTreePanel
  readonly #detail: TopicDetail
  readonly #publish: PublishPanel
  readonly #throttle: RenderThrottle
  readonly #listeners: Array<() => void> = []

  constructor(private readonly client: AdminClient, link: ChannelLink, visible: () => boolean) {
    this.#detail = new TopicDetail(client, link)
    this.#publish = new PublishPanel(client)
    this.#tree = new TopicTreePanel((topic) => {
      this.#publish.setTopic(topic)
      void this.#detail.show(topic)
    })
    this.#throttle = new RenderThrottle(() => this.#tree.render(), 4, visible)
    this.element = h('section', { class: 'tab topics-tab' }, this.#tree.element,
      h('div', { class: 'topics-right' }, this.#detail.element, this.#publish.element))
  }

  get root(): TopicNode { return this.#tree.root }

  /** Called whenever topic counts change (the Traffic tab's top topics follow them). */
  onChanged(listener: () => void): void { this.#listeners.push(listener) }

  /** Reads the hub's topic list into the tree (keeps selection and expansion). */
  async reload(): Promise<void> {
    const res: TopicsResponse = await readAllTopics((after) => this.client.topicsPage(after, TOPIC_PAGE_SIZE), MAX_TREE_TOPICS)
    this.#tree.root = withTopicList(this.#tree.root, res)
    this.newSinceReload = 0
    this.skippedSinceReload = 0
    this.#changed()
  }

  /**
   * Topics the tap revealed since the last full read. A live message cannot say whether a
   * retained copy is stored (the retain flag is cleared on delivery [MQTT-3.3.1-9]), nor the
   * topic's full count: the hub's topic list can, so new topics make the next resync sooner.
   */
  newSinceReload = 0
  /** Messages the tap skipped (beyond its rate) since the last full read: the counts are behind. */
  skippedSinceReload = 0
  /** When the tap last skipped messages, ms (Date.now()). */
  lastSkipAtMs = 0

  /** A tap frame: its messages, and how many it skipped beyond its rate. */
  onTap(messages: readonly TapMessage[], skipped = 0): void {
    if (skipped > 0) {
      this.skippedSinceReload += skipped
      this.lastSkipAtMs = Date.now()
    }
    for (const m of messages) {
      if (applyTapMessage(this.#tree.root, m)) this.newSinceReload++
      if (m.topic === this.#detail.topic) this.#detail.addLive(m)
    }
    this.#changed()
  }

  /** Selects a topic (also from other tabs, e.g. a device's telemetry). */
  select(topic: string): void { this.#tree.select(topic) }

  shown(): void {
    this.#throttle.now()
    this.#detail.shown()
  }

  /** Off screen: the topic detail leaves its channel join. */
  hidden(): void { this.#detail.hidden() }

  #changed(): void {
    this.#throttle.request()
    for (const l of this.#listeners) l()
  }
}
