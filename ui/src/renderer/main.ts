/**
 * The renderer's entry point (ui/public/index.html loads it): builds the API client, the socket,
 * the tabs and the feeds that keep them live, and wires frames to tabs. Runs the same in the
 * Electron window and in any browser pointed at a hub's admin port.
 */
import type { AdminServerFrame, TimelineEvent } from '../../../hub/src/contract/admin-api.js'
import { AdminClient, ApiError } from './client/admin-client.js'
import { AdminSocket } from './client/admin-socket.js'
import { ChannelLink } from './client/channel-link.js'
import { loadSettings, normalizeHubUrl, saveSettings, urlWithoutToken, type ConnectionSettings } from './client/connection-settings.js'
import { LiveFeed } from './client/live-feed.js'
import { AppShell, type TabName } from './app-shell.js'
import { desktopApi, localCopyReason, SetupPanel } from './desktop-setup.js'
import { DevicesTab } from './views/devices-view.js'
import { RingTab } from './views/ring-view.js'
import { TopicsTab } from './views/topics-view.js'
import { topicsResyncDue } from './logic/topics-resync.js'
import { statsPollSinceMs } from './logic/series.js'
import { TRAFFIC_WINDOW_MS, TrafficTab } from './views/traffic-view.js'
import { HubColors } from './widgets/hub-colors.js'

/** Live tap rate the UI asks for, messages/s (the hub bounds it further). */
const TAP_MAX_PER_S = 200
/** How often the full topic list is re-read while the tap is live (its counts are sampled), ms. */
const TOPICS_RESYNC_MS = 30_000
/** Sooner, while the tap reveals topics the list did not have (retained flags, counts), ms. */
const TOPICS_NEW_RESYNC_MS = 3_000

function storage(): Storage | undefined {
  try { return localStorage } catch { return undefined } // blocked storage (privacy settings)
}

let settings: ConnectionSettings = loadSettings(location, storage())
// The token has been read: keep it out of the address bar and the history.
const withoutToken = urlWithoutToken(location.href, 'ring')
if (withoutToken) history.replaceState(null, '', withoutToken)
const desktop = desktopApi()
const reason = desktop ? localCopyReason(location.search) : undefined
const client = new AdminClient(() => settings)
const colors = new HubColors()
// Closures below read `shell` only after start-up has finished (timers, frames, events).
const visible = (tab: TabName) => (): boolean => shell.isVisible(tab)

// The topic and device details' live messages (issue 8): a channel client whose hub list is the
// hub set here, then the ring's others. The bundled copy without a hub joins nothing.
const link = new ChannelLink({ settings: () => settings, ring: () => ring.ring, enabled: !(desktop && reason) })
const topics = new TopicsTab(client, link, visible('topics'))
const ring = new RingTab(client, colors, visible('ring'))
const traffic = new TrafficTab(colors, () => topics.root, visible('traffic'))
const devices = new DevicesTab(client, link, (topic) => { shell.show('topics'); topics.select(topic) }, visible('devices'))
topics.onChanged(() => traffic.topicsChanged())

const socket = new AdminSocket({
  url: () => client.socketUrl(),
  onFrame: (frame) => onFrame(frame),
  onStateChanged: (state) => {
    shell.setSocketState(state)
    // Back online: fill what the socket missed while it was down.
    if (state === 'open') for (const f of feeds) void f.refresh()
  },
})

const shell: AppShell = new AppShell(document.getElementById('app') as HTMLElement, { ring, traffic, topics, devices }, () => settings, (next) => {
  if (desktop) {
    // The app keeps its settings (the token encrypted) and reloads the window from that hub.
    void desktop.saveSettings({ adminUrl: normalizeHubUrl(next.hubUrl), ...(next.token ? { token: next.token } : {}) })
      .then(() => desktop.reconnect()).catch((err: unknown) => shell.setError('settings', String(err)))
    return
  }
  settings = { hubUrl: normalizeHubUrl(next.hubUrl), token: next.token }
  saveSettings(settings, storage())
  socket.restart()
  link.restart()
  for (const f of feeds) void f.refresh()
})

let lastTimelineMs = 0
const addTimeline = (events: readonly TimelineEvent[]): void => {
  for (const e of events) if (e.tsMs > lastTimelineMs) lastTimelineMs = e.tsMs
  ring.addTimeline(events)
  traffic.addTimeline(events)
}

function onFrame(frame: AdminServerFrame): void {
  switch (frame.op) {
    case 'ring': ring.setRing(frame.ring); shell.setHub(frame.ring.self); link.ringChanged(); break
    case 'timeline': addTimeline(frame.events); break
    case 'stats': ring.setStats(frame.points); traffic.addStats(frame.points); break
    case 'devices': devices.update(frame.devices); break
    case 'tap': topics.onTap(frame.messages, frame.skipped); break
    // A refused frame (e.g. a channel an older hub lacks: that feed keeps polling) is shown
    // until the hub next accepts one.
    case 'error': shell.setError('socket', frame.reason); break
    case 'ok': shell.setError('socket', undefined); break
  }
}

/** A feed's poll, recording its error in the status line (and clearing it once it works). */
function tracked(name: string, poll: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await poll()
      shell.setError(name, undefined)
    } catch (err) {
      shell.setError(name, err instanceof ApiError ? err.message : String(err))
      throw err
    }
  }
}

/** How often the Ring tab asks for the router links, ms. */
const LINKS_POLL_MS = 2_000

const feeds = [
  new LiveFeed(socket, 'ring', tracked('ring', async () => {
    const view = await client.ring()
    ring.setRing(view)
    shell.setHub(view.self)
    link.ringChanged()
  }), 1_000),
  new LiveFeed(socket, 'timeline', tracked('timeline', async () => addTimeline(await client.timeline(lastTimelineMs || undefined))), 2_000),
  new LiveFeed(socket, 'stats', tracked('stats', async () => {
    const { points } = await client.stats(statsPollSinceMs(traffic.lastPointMs, Date.now(), TRAFFIC_WINDOW_MS))
    ring.setStats(points)
    traffic.addStats(points)
  }), 1_000),
  new LiveFeed(socket, 'devices', tracked('devices', () => devices.reload()), 2_000),
  new LiveFeed(socket, 'tap', tracked('topics', () => topics.reload()), 3_000),
]

if (desktop && reason) {
  // The desktop app's bundled copy: no hub to talk to; ask for one, show the observer's ring.
  document.body.append(new SetupPanel(desktop, reason, (view) => ring.setRing(view)).element)
} else {
  start()
}

/** Subscribes the channels and starts every feed (a hub serves this page, or was set). */
function start(): void {
  socket.subscribe({ channel: 'ring' })
  socket.subscribe({ channel: 'timeline' })
  socket.subscribe({ channel: 'stats' })
  socket.subscribe({ channel: 'devices' })
  socket.subscribe({ channel: 'tap', filter: '#', maxPerS: TAP_MAX_PER_S })
  socket.start()
  for (const f of feeds) f.start()
  // Router links: no channel, polled (one gathering over the ring per poll).
  // One question at a time, so a slow answer cannot land after (and over) a newer one; none
  // while the Ring tab is hidden (each is a gathering over the ring).
  let linksBusy = false
  const ringShown = visible('ring')
  const pollLinks = (): void => {
    if (linksBusy || !ringShown()) return
    linksBusy = true
    client.links().then((answer) => ring.setLinks(answer), (err: unknown) => ring.setLinks({ error: err instanceof Error ? err.message : String(err) }))
      .finally(() => { linksBusy = false })
  }
  pollLinks()
  setInterval(pollLinks, LINKS_POLL_MS)
  let lastResync = Date.now()
  setInterval(() => {
    if (!socket.isLive('tap')) return // the feed polls the list itself
    const state = { newTopics: topics.newSinceReload, skipped: topics.skippedSinceReload, lastSkipAtMs: topics.lastSkipAtMs, lastReadAtMs: lastResync }
    if (!topicsResyncDue(state, Date.now(), { everyMs: TOPICS_RESYNC_MS, quietMs: TOPICS_NEW_RESYNC_MS })) return
    lastResync = Date.now()
    void topics.reload().catch(() => {})
  }, TOPICS_NEW_RESYNC_MS)
}
