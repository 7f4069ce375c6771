/**
 * The topic tree of the Topics view (MQTT Explorer's): topics split on `/` into levels, each node
 * with the number of messages at or below it, its own last value and a retained marker. Built from
 * the flat `GET /api/v1/topics` list and updated in place by tap messages. Pure, no DOM.
 */
import type { TapMessage, TopicsResponse, TopicView } from '../../../../hub/src/contract/admin-api.js'

export interface TopicNode {
  /** This level's name (`''` for the root). */
  name: string
  /** Full topic of this node (`a/b`), `''` for the root. */
  topic: string
  children: Map<string, TopicNode>
  /** Messages on this exact topic. */
  count: number
  /** Messages on this topic and every topic below it. */
  total: number
  /** Topics at or below this node that carry a message. */
  topics: number
  /** The last message on this exact topic, when one was seen. */
  last?: { payload: string, encoding: 'utf8' | 'base64', tsMs: number, retained: boolean }
}

export function emptyTree(): TopicNode {
  return { name: '', topic: '', children: new Map(), count: 0, total: 0, topics: 0 }
}

/** The node of `topic`, created along the way. Empty levels (`a//b`, `/a`) are real MQTT levels. */
function nodeOf(root: TopicNode, topic: string): { node: TopicNode, path: TopicNode[] } {
  const path: TopicNode[] = [root]
  let node = root
  const levels = topic.split('/')
  levels.forEach((level, i) => {
    let child = node.children.get(level)
    if (!child) {
      child = { name: level, topic: levels.slice(0, i + 1).join('/'), children: new Map(), count: 0, total: 0, topics: 0 }
      node.children.set(level, child)
    }
    path.push(child)
    node = child
  })
  return { node, path }
}

/** Sets a topic's figures from the hub's topic list (replacing what the node had). */
export function applyTopicView(root: TopicNode, t: TopicView): void {
  const { node, path } = nodeOf(root, t.topic)
  const countDelta = t.count - node.count
  const newTopic = node.last === undefined ? 1 : 0
  node.count = t.count
  node.last = { payload: t.lastPayload, encoding: t.encoding, tsMs: t.lastTsMs, retained: t.retained }
  for (const n of path) { n.total += countDelta; n.topics += newTopic }
}

/**
 * The tree after a full read of the hub's topic list. A complete list replaces the tree (topics
 * gone from the hub go from the tree); a truncated one (`total` beyond what one answer holds)
 * updates the topics it has and keeps the others the tap revealed.
 */
export function withTopicList(root: TopicNode, res: TopicsResponse): TopicNode {
  const complete = res.total <= res.topics.length
  const next = complete ? emptyTree() : root
  for (const t of res.topics) applyTopicView(next, t)
  return next
}

/** Counts one live message and makes it the topic's last value; true when the topic is new. */
export function applyTapMessage(root: TopicNode, m: TapMessage): boolean {
  const { node, path } = nodeOf(root, m.topic)
  const newTopic = node.last === undefined ? 1 : 0
  node.count++
  // A retained flag on a live message means the broker re-sent a stored one; an empty retained
  // payload deletes it [MQTT-3.3.1-10/11]. A plain publish leaves the stored one in place.
  const retained = m.retain ? m.payload.length > 0 : node.last?.retained ?? false
  node.last = { payload: m.payload, encoding: m.encoding, tsMs: m.tsMs, retained }
  for (const n of path) { n.total++; n.topics += newTopic }
  return newTopic === 1
}

/** A row of the flattened, virtualized tree. */
export interface TreeRow {
  node: TopicNode
  depth: number
  expanded: boolean
}

/**
 * The visible rows in display order (children sorted by name, numerically where both are
 * numbers), descending only into expanded topics; with a `filter`, only nodes whose topic
 * contains it and their ancestors, all expanded.
 */
export function visibleRows(root: TopicNode, expanded: ReadonlySet<string>, filter = ''): TreeRow[] {
  const rows: TreeRow[] = []
  const needle = filter.toLowerCase()
  const matches = (n: TopicNode): boolean => n.topic.toLowerCase().includes(needle) || [...n.children.values()].some(matches)
  const walk = (node: TopicNode, depth: number): void => {
    for (const child of sortedChildren(node)) {
      if (needle && !matches(child)) continue
      const open = needle ? true : expanded.has(child.topic)
      rows.push({ node: child, depth, expanded: open })
      if (open) walk(child, depth + 1)
    }
  }
  walk(root, 0)
  return rows
}

const collator = new Intl.Collator('en', { numeric: true })
function sortedChildren(node: TopicNode): TopicNode[] {
  return [...node.children.values()].sort((a, b) => collator.compare(a.name, b.name))
}

/** The node of an existing topic, or undefined. */
export function findNode(root: TopicNode, topic: string): TopicNode | undefined {
  let node: TopicNode | undefined = root
  for (const level of topic.split('/')) node = node?.children.get(level)
  return node
}

/** The `n` topics with the most messages (a bounded selection, not a full sort of 10k topics). */
export function topTopics(root: TopicNode, n: number): TopicNode[] {
  const best: TopicNode[] = []
  const visit = (node: TopicNode): void => {
    if (node.last && (best.length < n || node.count > (best[best.length - 1] as TopicNode).count)) {
      best.push(node)
      best.sort((a, b) => b.count - a.count)
      if (best.length > n) best.pop()
    }
    for (const c of node.children.values()) visit(c)
  }
  visit(root)
  return best
}
