import { createRequire } from 'node:module'

/**
 * The qlobber tries the aedes memory persistence uses, behind narrow local types (qlobber is
 * CommonJS without typings). Using the very same classes keeps match results, their order and
 * the subscription counts identical to aedes-persistence.
 */

/** A subscription as the trie stores and returns it (aedes' subscriptionsByTopic shape). */
export interface TrieSubscription {
  clientId: string
  topic: string
  qos: number
  rh?: number | undefined
  rap?: boolean | undefined
  nl?: boolean | undefined
}

export interface SubscriptionTrie {
  add(topic: string, sub: TrieSubscription): void
  remove(topic: string, sub: { clientId: string, topic: string }): void
  match(topic: string): TrieSubscription[]
  clear(): void
  /** Number of (client, filter) pairs in the trie. */
  readonly subscriptionsCount: number
}

export interface TopicMatcher {
  add(pattern: string): void
  test(topic: string): boolean
}

// Same options as aedes-persistence: MQTT wildcards and separator [MQTT-4.7].
const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' }

type Constructor<T> = new (options: typeof QLOBBER_OPTIONS) => T
const require = createRequire(import.meta.url)
const QlobberSub = require('qlobber/aedes/qlobber-sub') as Constructor<SubscriptionTrie>
const { QlobberTrue } = require('qlobber') as { QlobberTrue: Constructor<TopicMatcher> }

export function createSubscriptionTrie(): SubscriptionTrie {
  return new QlobberSub(QLOBBER_OPTIONS)
}

/** A matcher for one MQTT filter, for scanning retained topics. */
export function createTopicMatcher(pattern: string): TopicMatcher {
  const matcher = new QlobberTrue(QLOBBER_OPTIONS)
  matcher.add(pattern)
  return matcher
}
