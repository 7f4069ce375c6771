/**
 * The live views' channel (issue 8): one `ringhub/channels` client for the page, shared by the
 * topic detail and the device detail, each holding at most one join. The client's hub list is
 * the hub the UI talks to first, then the ring's other hubs (logic/channel-urls.ts), so a join
 * continues on another hub when that one goes away, resumed from the last offset without a gap.
 *
 * Each join reports a `LiveState`: `channel` once a hub acknowledged it; `reconnecting` while
 * the client looks for another hub (it rejoins and resumes by itself); `unavailable` when the
 * client module did not load, no hub acknowledged the join within `unavailableAfterMs` (an
 * older hub without `/channels`, a proxy without WebSockets), or the hub refused the join. Views keep their
 * earlier source (the sampled tap, polling) for `unavailable` only; a join that becomes possible
 * later (a hub answers after all) switches them to the channel.
 *
 * The client module is the hub's own (`/hub/client/channels.js`, hub/src/admin/renderer-modules.ts),
 * imported on first use: a page whose copy lacks it still works, on its fallbacks.
 */
import type { RingView } from '../../../../hub/src/contract/ring-view.js'
import type { ChannelMessage, ChannelOffset, ChannelOk } from '../../../../hub/src/contract/channels.js'
import type { ChannelClientState } from '../hub/client/channels.js'
import { addsHubs, channelUrls, hubOfChannelUrl } from '../logic/channel-urls.js'
import type { ConnectionSettings } from './connection-settings.js'

export type LiveState =
  | { kind: 'connecting' }
  /** `gap`: a resume found the owner's log no longer reaching back to the last offset seen. */
  | { kind: 'channel', hub: string, gap?: boolean }
  | { kind: 'reconnecting' }
  | { kind: 'unavailable', reason: string }

/** The part of `ChannelClient` used here (tests pass a fake). */
export interface LinkClient {
  readonly url: string | undefined
  onState(listener: (s: ChannelClientState) => void): void
  join(topic: string, handler: (m: ChannelMessage) => void, options?: { since?: ChannelOffset }): Promise<ChannelOk>
  leave(topic: string): Promise<void>
  close(): void
}

export type ClientFactory = (options: { urls: readonly string[], auth?: { token: string } }) => LinkClient

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface ChannelLinkOptions {
  settings: () => ConnectionSettings
  /** The latest ring view the UI has (for the other hubs' admin addresses). */
  ring: () => RingView | undefined
  /** False where the page has no hub to talk to (the desktop app's setup copy). */
  enabled?: boolean
  /** Default: imports the hub's client module. */
  loadClient?: () => Promise<ClientFactory>
  /** How long joins wait for a first connection before their views fall back, ms (default 3000). */
  unavailableAfterMs?: number
  timers?: Timers
}

export interface LiveJoinOptions {
  /** Where the join starts, asked when it is made (the view's newest shown offset). */
  since?: () => ChannelOffset | undefined
  onMessage: (m: ChannelMessage) => void
  onState: (s: LiveState) => void
}

export interface LiveJoin { leave(): void }

interface Sub {
  topic: string
  opts: LiveJoinOptions
  state: LiveState
  /** The last numbered offset delivered (a rebuilt client continues from it). */
  last: ChannelOffset | undefined
  /** The client acknowledged the join: it rejoins and resumes by itself after a reconnect. */
  joined: boolean
  inFlight: boolean
  refused: boolean
  /** Bumped per join attempt and on leave, so late answers of an old attempt are ignored. */
  gen: number
  /** Falls back to `unavailable` when no hub acknowledged the join in time. */
  deadline: unknown
}

/** The browser's timers (the renderer has no Clock; STYLE §2 covers hub and agent code). */
const browserTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
}

/** The hub's client, imported from the page's `hub/` path (served by every hub, copied for the app). */
export async function importChannelClient(): Promise<ClientFactory> {
  const mod = await import('../hub/client/channels.js')
  // A dead hub is noticed within 2 heartbeats (a crashed one at once: its socket closes).
  return (options) => new mod.ChannelClient({ ...options, heartbeatMs: 5_000, requestTimeoutMs: 5_000 })
}

export class ChannelLink {
  readonly #subs = new Map<string, Sub>()
  readonly #timers: Timers
  readonly #unavailableAfterMs: number
  #factory: ClientFactory | undefined
  #loading: Promise<void> | undefined
  #loadError: string | undefined
  #client: LinkClient | undefined
  #urls: string[] = []
  #connected = false

  constructor(private readonly opts: ChannelLinkOptions) {
    this.#timers = opts.timers ?? browserTimers
    this.#unavailableAfterMs = opts.unavailableAfterMs ?? 3_000
  }

  /** The channel URL of the hub in use, when connected. */
  get url(): string | undefined { return this.#connected ? this.#client?.url : undefined }

  /** Joins `topic` for a view; one join per topic at a time (a second replaces the first). */
  join(topic: string, opts: LiveJoinOptions): LiveJoin {
    this.#leave(topic)
    const sub: Sub = { topic, opts, state: { kind: 'connecting' }, last: undefined, joined: false, inFlight: false, refused: false, gen: 0, deadline: undefined }
    this.#subs.set(topic, sub)
    this.#connecting(sub)
    this.#ensureClient()
    return { leave: () => { if (this.#subs.get(topic) === sub) this.#leave(topic) } }
  }

  /** The hub URL or token changed: a new client, every join made again from where it was. */
  restart(): void {
    this.#closeClient()
    for (const sub of this.#subs.values()) {
      sub.joined = false
      sub.inFlight = false
      sub.refused = false // another hub or token may allow it
      sub.gen++
      this.#connecting(sub)
    }
    if (this.#subs.size > 0) this.#ensureClient()
  }

  /** A new ring view: a hub the client does not know of makes it start again with the longer list. */
  ringChanged(): void {
    if (!this.#client) return
    if (addsHubs(this.#urls, channelUrls(this.opts.settings().hubUrl, this.opts.ring()))) this.restart()
  }

  #leave(topic: string): void {
    const sub = this.#subs.get(topic)
    if (!sub) return
    this.#subs.delete(topic)
    sub.gen++
    this.#timers.clearTimeout(sub.deadline)
    if (this.#client && (sub.joined || sub.inFlight)) this.#client.leave(topic).catch(() => { /* the connection went: nothing joined */ })
  }

  #ensureClient(): void {
    const cannot = this.opts.enabled === false ? 'no hub to talk to' : this.#loadError
    if (cannot !== undefined) {
      for (const sub of this.#subs.values()) this.#set(sub, { kind: 'unavailable', reason: cannot })
      return
    }
    if (this.#client) {
      if (this.#connected) for (const sub of this.#subs.values()) this.#joinOnClient(sub)
      return
    }
    if (!this.#factory) {
      if (this.#loading) return // the joins are made once it has loaded
      this.#loading = (this.opts.loadClient ?? importChannelClient)().then((f) => { this.#factory = f }, (err: unknown) => {
        this.#loadError = `channel client not loaded: ${err instanceof Error ? err.message : String(err)}`
      }).then(() => { if (this.#subs.size > 0) this.#ensureClient() })
      return
    }
    const { hubUrl, token } = this.opts.settings()
    this.#urls = channelUrls(hubUrl, this.opts.ring())
    const client = this.#factory({ urls: this.#urls, ...(token ? { auth: { token } } : {}) })
    this.#client = client
    this.#connected = false
    client.onState((s) => { if (this.#client === client) this.#clientState(client, s) })
  }

  /**
   * A join waits for a hub's acknowledgement; without one within `unavailableAfterMs` its view
   * falls back (the join keeps trying, and switches the view back once a hub acknowledges it).
   */
  #connecting(sub: Sub): void {
    this.#set(sub, { kind: 'connecting' })
    this.#timers.clearTimeout(sub.deadline)
    sub.deadline = this.#timers.setTimeout(() => {
      if (this.#subs.get(sub.topic) !== sub || sub.state.kind !== 'connecting') return
      const where = this.#loadError ?? `no hub acknowledged the join at /channels within ${this.#unavailableAfterMs} ms (${this.#urls.join(', ')})`
      this.#set(sub, { kind: 'unavailable', reason: where })
    }, this.#unavailableAfterMs)
  }

  #clientState(client: LinkClient, s: ChannelClientState): void {
    if (s.state === 'connected') {
      this.#connected = true
      for (const sub of this.#subs.values()) {
        // An acknowledged join is made again by the client itself, from its last offset.
        if (sub.joined) this.#set(sub, { kind: 'channel', hub: this.#hub(s.url) })
      }
      // The others once the client has made its own rejoins (it announces `connected` first,
      // and would send a join made now a second time).
      queueMicrotask(() => { if (this.#client === client && this.#connected) for (const sub of this.#subs.values()) this.#joinOnClient(sub) })
    } else if (s.state === 'disconnected') {
      this.#connected = false
      for (const sub of this.#subs.values()) {
        if (sub.joined) { this.#set(sub, { kind: 'reconnecting' }); continue }
        if (sub.inFlight) {
          // The answer will not come on this connection: forget the attempt, make it again on the next.
          sub.inFlight = false
          sub.gen++
          client.leave(sub.topic).catch(() => {})
        }
      }
    } else if (!s.resumed) {
      const sub = this.#subs.get(s.topic)
      if (sub?.joined && sub.state.kind === 'channel') this.#set(sub, { ...sub.state, gap: true })
    }
  }

  #joinOnClient(sub: Sub): void {
    const client = this.#client
    // `url` is set only while connected: a join sent now is answered on this connection.
    if (!client || client.url === undefined || sub.joined || sub.inFlight || sub.refused) return
    sub.inFlight = true
    const gen = ++sub.gen
    const since = sub.last ?? sub.opts.since?.()
    client.join(sub.topic, (m) => this.#message(sub, m), since ? { since } : {}).then((ok) => {
      if (sub.gen !== gen || this.#client !== client) return
      sub.inFlight = false
      sub.joined = true
      this.#timers.clearTimeout(sub.deadline)
      this.#set(sub, { kind: 'channel', hub: this.#hub(client.url), ...(since && ok.resumed === false ? { gap: true } : {}) })
    }, (err: unknown) => {
      if (sub.gen !== gen || this.#client !== client) return
      sub.inFlight = false
      sub.refused = true
      this.#timers.clearTimeout(sub.deadline)
      this.#set(sub, { kind: 'unavailable', reason: `join refused: ${err instanceof Error ? err.message : String(err)}` })
    })
  }

  #message(sub: Sub, m: ChannelMessage): void {
    if (this.#subs.get(sub.topic) !== sub) return
    if (m.epoch !== undefined && m.seq !== undefined) sub.last = { epoch: m.epoch, seq: m.seq }
    sub.opts.onMessage(m)
  }

  #hub(url: string | undefined): string {
    return url === undefined ? '?' : hubOfChannelUrl(url, this.opts.ring())
  }

  #set(sub: Sub, state: LiveState): void {
    sub.state = state
    if (this.#subs.get(sub.topic) === sub) sub.opts.onState(state)
  }

  #closeClient(): void {
    this.#client?.close()
    this.#client = undefined
    this.#connected = false
  }
}

/** The status a live view shows for its state; `fallback` names what it uses without a channel. */
export function liveStatusText(state: LiveState, fallback: string): string {
  switch (state.kind) {
    case 'connecting': return 'connecting to a channel…'
    case 'channel': return `live via channel (${state.hub})${state.gap ? ' · some messages were no longer in the log' : ''}`
    case 'reconnecting': return 'channel reconnecting to another hub…'
    case 'unavailable': return `${fallback} (no channel)`
  }
}
