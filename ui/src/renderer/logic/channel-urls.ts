/**
 * The hub list of the UI's channel client (docs/channels.md, `ringhub/channels`): the hub the UI
 * talks to first, then every other hub of the ring that serves an admin port, so the live views
 * continue on another hub when that one goes away. Pure, no DOM.
 */
import type { RingView } from '../../../../hub/src/contract/ring-view.js'

/** `http(s)://host:port` → `ws(s)://host:port/channels`. */
export function channelUrlOf(hubUrl: string): string {
  return `${hubUrl.replace(/\/+$/, '').replace(/^http(s?):/i, (_m, s: string) => `ws${s.toLowerCase()}:`)}/channels`
}

/**
 * `hubUrl` first, then the ring's hubs (not observers: they serve no channels; not members that
 * left) with an admin address: alive ones first, then suspect and dead ones (they may come back;
 * a failed attempt only costs the client a backoff step), each group by id. The scheme follows
 * `hubUrl` (a page over https talks wss to every hub). No duplicates.
 */
export function channelUrls(hubUrl: string, ring: RingView | undefined): string[] {
  const secure = /^https:/i.test(hubUrl)
  const urls = [channelUrlOf(hubUrl)]
  const rank = (state: string): number => state === 'alive' ? 0 : state === 'suspect' ? 1 : 2
  const hubs = (ring?.members ?? [])
    .filter((m) => m.meta.role !== 'observer' && m.state !== 'left' && m.addresses.admin !== undefined)
    .sort((a, b) => rank(a.state) - rank(b.state) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const m of hubs) {
    const url = `${secure ? 'wss' : 'ws'}://${m.addresses.admin as string}/channels`
    if (!urls.includes(url)) urls.push(url)
  }
  return urls
}

/** The id of the ring member whose admin port `channelUrl` is on, else its `host:port`. */
export function hubOfChannelUrl(channelUrl: string, ring: RingView | undefined): string {
  let host: string
  try { host = new URL(channelUrl).host } catch { return channelUrl }
  return ring?.members.find((m) => m.addresses.admin === host)?.id ?? host
}

/** Whether `next` names a hub that `current` lacks (the client is then rebuilt with the longer list). */
export function addsHubs(current: readonly string[], next: readonly string[]): boolean {
  return next.some((u) => !current.includes(u))
}
