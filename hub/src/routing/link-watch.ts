/**
 * Silent links (docs/routing.md): what one pass of the router's watch does with a link whose
 * peer beats. A connection lost without a reset (a NAT or firewall that forgot it, a black-holed
 * path) looks open until TCP gives up, minutes later, while requests on it time out one by one;
 * so each hub beats when it has written nothing for `beatMs`, and a link nothing came on for
 * `silentLinkMs` (and three of the peer's beat intervals) is closed. Pure: the bus applies it.
 */

/** What the watch reads of a link (monotonic ms). */
export interface WatchedLink {
  /** When this hub last wrote to the peer, and when bytes last came from it. */
  sentMs: number
  heardMs: number
  /** The peer's beat interval (both ends announced one). */
  peerBeatMs: number
  /** Frames are queued: they are written within this turn anyway. */
  hasQueued: boolean
  /** `heardMs` when the last pass found the link silent, if it did. */
  silentAt: number | undefined
}

export interface WatchVerdict {
  /** Write a beat now. */
  beat: boolean
  /** Close the link: silent at two passes in a row with nothing heard between them. */
  close: boolean
  /** The link's `silentAt` after this pass. */
  silentAt: number | undefined
}

/**
 * One pass over one link. No beat on a link with frames queued (a beat's flush would write a
 * reply ahead of the turn's deliveries to other hubs). A link found silent is closed at the next
 * pass, not at once: after this process stalled, every link looks silent until the event loop
 * has read what came meanwhile, which it does between two passes.
 */
export function watchLink(link: WatchedLink, nowMs: number, beatMs: number, silentLinkMs: number): WatchVerdict {
  const beat = nowMs - link.sentMs >= beatMs && !link.hasQueued
  const allowedMs = Math.max(silentLinkMs, 3 * link.peerBeatMs)
  if (nowMs - link.heardMs <= allowedMs) return { beat, close: false, silentAt: undefined }
  if (link.silentAt !== link.heardMs) return { beat, close: false, silentAt: link.heardMs }
  return { beat, close: true, silentAt: link.silentAt }
}
