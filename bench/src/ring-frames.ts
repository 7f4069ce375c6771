import type { NodeCounters } from './system-handle.js'

/** What the inter-hub link carried for the messages of one run, per message the owner numbered. */
export interface FrameCost {
  /** Messages the owner numbered (its `sequenced` counter) during the run. */
  sequenced: number
  /** Hubs with subscribers other than the owner: each needs the message once. */
  interestedHubs: number
  /** Deliver frames the owner sent, per message and interested hub: 1 is the design, more is waste. */
  deliverFramesPerHub: number
  /** Every inter-hub frame (forwards, replies, replica copies, deliveries) of every hub, per message. */
  linkFramesPerMsg: number
  /** Deliver frames each hub received, per message. */
  receivedPerMsg: Record<string, number>
}

/**
 * Frame cost of a run from the hubs' counters before and after it. `owner`: the hub that owns the
 * run's keys; `subscriberHubs`: the hubs its subscribers are on (the owner itself needs no frame).
 */
export function frameCost(before: Readonly<Record<string, NodeCounters>>, after: Readonly<Record<string, NodeCounters>>, owner: string, subscriberHubs: readonly string[]): FrameCost {
  const delta = (hub: string, counter: string): number => (after[hub]?.[counter] ?? NaN) - (before[hub]?.[counter] ?? 0)
  const sequenced = delta(owner, 'sequenced')
  const remote = [...new Set(subscriberHubs)].filter((h) => h !== owner)
  const hubs = Object.keys(after)
  const framesOut = hubs.reduce((n, h) => n + delta(h, 'framesOut'), 0)
  return {
    sequenced,
    interestedHubs: remote.length,
    deliverFramesPerHub: remote.length > 0 ? delta(owner, 'deliveriesSent') / (sequenced * remote.length) : NaN,
    linkFramesPerMsg: framesOut / sequenced,
    receivedPerMsg: Object.fromEntries(hubs.map((h) => [h, delta(h, 'deliveriesReceived') / sequenced])),
  }
}
