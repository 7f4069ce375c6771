/**
 * The live topic tree (MQTT Explorer's left pane): a virtualized, filterable tree with message
 * counts, the last value and a retained marker. Rows carry `data-topic` for tests and scripts.
 */
import { emptyTree, visibleRows, type TopicNode, type TreeRow } from '../logic/topic-tree.js'
import { compact, h, replaceChildren } from '../widgets/dom.js'
import { VirtualList } from '../widgets/virtual-list.js'

const ROW_HEIGHT_PX = 24

export class TopicTreePanel {
  readonly element: HTMLElement
  root: TopicNode = emptyTree()
  readonly #expanded = new Set<string>()
  readonly #list: VirtualList<TreeRow>
  readonly #summary = h('span', { class: 'summary' })
  #filter = ''
  #selected = ''

  constructor(private readonly onSelect: (topic: string) => void) {
    const filter = h('input', { type: 'search', placeholder: 'filter topics', class: 'tree-filter', 'aria-label': 'filter topics' })
    filter.addEventListener('input', () => { this.#filter = filter.value.trim(); this.render() })
    const listEl = h('div', { class: 'tree-list' })
    this.#list = new VirtualList(listEl, ROW_HEIGHT_PX, (row) => this.#row(row))
    this.element = h('div', { class: 'panel tree-panel' }, h('div', { class: 'toolbar' }, filter, this.#summary), listEl)
  }

  get selected(): string { return this.#selected }

  /** Expands the path to `topic` and selects it. */
  select(topic: string): void {
    const levels = topic.split('/')
    for (let i = 1; i < levels.length; i++) this.#expanded.add(levels.slice(0, i).join('/'))
    this.#selected = topic
    this.render()
    const index = this.#list.items.findIndex((r) => r.node.topic === topic)
    if (index >= 0) this.#list.reveal(index)
    this.onSelect(topic)
  }

  render(): void {
    this.#list.setItems(visibleRows(this.root, this.#expanded, this.#filter))
    replaceChildren(this.#summary, `${compact(this.root.topics)} topics, ${compact(this.root.total)} messages`)
  }

  #row(row: TreeRow): HTMLElement {
    const n = row.node
    const hasChildren = n.children.size > 0
    const toggle = (ev: Event): void => {
      ev.stopPropagation()
      if (this.#expanded.has(n.topic)) this.#expanded.delete(n.topic)
      else this.#expanded.add(n.topic)
      this.render()
    }
    const el = h('div', {
      class: `tree-row${n.topic === this.#selected ? ' selected' : ''}`, 'data-topic': n.topic, role: 'treeitem',
      onclick: () => { this.#selected = n.topic; this.render(); this.onSelect(n.topic) },
      ondblclick: hasChildren ? toggle : undefined,
    },
    h('span', { class: 'indent', style: `width:${row.depth * 14}px` }),
    h('span', { class: 'caret', onclick: hasChildren ? toggle : undefined }, hasChildren ? (row.expanded ? '▾' : '▸') : ''),
    h('span', { class: 'name' }, n.name === '' ? '(empty)' : n.name),
    n.last?.retained ? h('span', { class: 'retained', title: 'retained message stored' }, 'R') : null,
    h('span', { class: 'count', title: `${n.total} messages, ${n.topics} topics` }, compact(n.total)),
    n.last ? h('span', { class: 'last' }, n.last.encoding === 'base64' ? '(binary)' : n.last.payload.slice(0, 120)) : null)
    return el
  }
}
