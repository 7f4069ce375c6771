import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { BrowserContext, Page } from 'playwright-core'
import { APP_HOST, APP_SCHEME, appProtocolHandler } from '../../ui/src/main/app-protocol.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { channelSources, contentSecurityPolicy, hubOrigin } from '../../ui/src/main/window-policy.js'
import { REPO_ROOT, startRing } from '../helpers/hubs.js'
import { RawChannel } from '../helpers/channels.js'
import { close, connect } from '../helpers/mqtt.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The operator UI's live views over the channel client (issue 8 item 5), in real Chromium
// against a 3-hub ring (in-process hubs on real sockets, an admin token): the topic detail shows
// every message of a topic published faster than the sampled tap's bound, gap-free from the
// history on; the device detail's telemetry follows without polling; both fall back when no
// channel answers; the desktop app's bundled copy loads the client under the app's CSP; and the
// topic detail continues without a gap when the hub its channel is on stops.
const IDS = ['a', 'b', 'c']
const TOKEN = 'ui-channels-token'
/** The UI's tap asks for 200 msg/s (main.ts); the burst goes well above it. */
const BURST = 1_200
const BURST_PER_S = 400
let ring: Awaited<ReturnType<typeof startRing>>
let ui: UiBrowser
let publisher: MqttClient
const clients: MqttClient[] = []
const contexts: BrowserContext[] = []

const admin = (id: string): string => `http://127.0.0.1:${ring.hub(id).ports.admin}`
const mqttUrl = (id: string): string => `mqtt://127.0.0.1:${ring.hub(id).ports.mqtt}`
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A key `devices/<tag>N` owned by one of `owners`, as hub a's admin API says. */
async function keyOwnedBy(owners: readonly string[], tag: string): Promise<string> {
  for (let i = 0; i < 1_000; i++) {
    const res = await fetch(`${admin('a')}/api/v1/ring/owner?topic=devices/${tag}${i}/x`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(2_000) })
    if (owners.includes((await res.json() as { owner: string }).owner)) return `devices/${tag}${i}`
  }
  throw new Error(`no key owned by ${owners.join('/')}`)
}

interface UiPage {
  page: Page
  /** Status of every response under /hub/ (the channel client's modules), by path. */
  hubModules: Map<string, number>
  /** Every request URL the page made. */
  requests: string[]
  errors: string[]
}

/**
 * A page from `pageUrl` (default hub a's), talking to `dataHub` (default: the page's hub) with
 * the admin token, on `tab`. `prepare` may route the context's traffic first.
 */
async function openUi(tab: string, opts: { pageUrl?: string, dataHub?: string, prepare?: (c: BrowserContext) => Promise<unknown> } = {}): Promise<UiPage> {
  const context = await ui.browser.newContext({ viewport: { width: 1400, height: 900 } })
  contexts.push(context)
  await opts.prepare?.(context)
  const page = await context.newPage()
  const result: UiPage = { page, hubModules: new Map(), requests: [], errors: [] }
  page.on('pageerror', (err) => result.errors.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(msg.text()) && !msg.location().url.endsWith('/favicon.ico')) result.errors.push(`console: ${msg.text()}`)
  })
  page.on('request', (req) => result.requests.push(req.url()))
  page.on('response', (res) => { const path = new URL(res.url()).pathname; if (path.startsWith('/hub/')) result.hubModules.set(path, res.status()) })
  const base = opts.pageUrl ?? `${admin('a')}/`
  const hub = opts.dataHub === undefined ? '' : `${base.includes('?') ? '&' : '?'}hub=${encodeURIComponent(admin(opts.dataHub))}`
  await page.goto(`${base}${hub}#token=${TOKEN}`)
  await page.click(`[data-tab-link="${tab}"]`)
  return result
}

/** Opens `topic` in the Topics tab. */
async function openTopic(page: Page, topic: string): Promise<void> {
  await page.fill('.tree-filter', topic.split('/')[1] as string)
  await page.click(`.tree-row[data-topic="${topic}"]`, { timeout: 15_000 })
  await page.waitForSelector(`.topic-detail .detail-topic:text("${topic}")`, { timeout: 5_000 })
}

const liveState = (page: Page, pane: string): Promise<string | null> => page.getAttribute(`${pane} .live-status`, 'data-live')

/**
 * From now on, every seq the topic detail's history list shows (its rows are redrawn at most 8
 * times a second, so each message is drawn while it is among the newest 500), and every live
 * state it shows, in window.seenSeqs / window.seenStates.
 */
async function recordTopicDetail(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    const list = document.querySelector('.topic-detail .history')
    const seqs = window.seenSeqs = new Set([...list.querySelectorAll('li[data-seq]')].map((li) => Number(li.dataset.seq)))
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.dataset && n.dataset.seq !== undefined) seqs.add(Number(n.dataset.seq))
    }).observe(list, { childList: true })
    const status = document.querySelector('.topic-detail .live-status')
    const states = window.seenStates = [status.dataset.live]
    new MutationObserver(() => { if (states[states.length - 1] !== status.dataset.live) states.push(status.dataset.live) }).observe(status, { attributes: true })
  })()`)
}
const seenSeqs = async (page: Page): Promise<number[]> => (await page.evaluate('[...window.seenSeqs]') as number[]).sort((x, y) => x - y)
const seenStates = (page: Page): Promise<string[]> => page.evaluate('window.seenStates') as Promise<string[]>
/** The seqs of the rows the history list shows now, newest first. */
const shownSeqs = (page: Page): Promise<number[]> => page.$$eval('.topic-detail .history li', (els) => els.map((el) => Number(el.getAttribute('data-seq'))))

/** Publishes `{"n": from..from+count-1}` on `topic` at QoS 1, about `perS` a second; resolves with the ms taken once all are acknowledged. */
async function publishPaced(client: MqttClient, topic: string, from: number, count: number, perS: number): Promise<number> {
  const started = performance.now()
  const acks: Array<Promise<unknown>> = []
  let sent = 0
  while (sent < count) {
    const due = Math.min(count, Math.floor((performance.now() - started) * perS / 1000) + 1)
    for (; sent < due; sent++) acks.push(client.publishAsync(topic, JSON.stringify({ n: from + sent }), { qos: 1 }))
    await sleep(5)
  }
  await Promise.all(acks)
  return performance.now() - started
}

/** Every integer from `first` to `last` is in `seqs`, and nothing beyond. */
function expectEvery(seqs: readonly number[], first: number, last: number): void {
  const set = new Set(seqs)
  const missing = Array.from({ length: last - first + 1 }, (_, i) => first + i).filter((s) => !set.has(s))
  expect(missing, `seqs missing between ${first} and ${last}`).toEqual([])
  expect(Math.max(...seqs)).toBe(last)
}

beforeAll(async () => {
  ring = await startRing(IDS, { adminToken: TOKEN })
  publisher = await connect(mqttUrl('c'), { clientId: 'ui-channels-pub', clean: true })
  clients.push(publisher)
  ui = await UiBrowser.launch()
}, 60_000)

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await close(...clients)
  await ui?.close()
  await ring?.stop()
})

describe('the live views over the channel client', () => {
  it('the topic detail shows every message of a topic published above the tap\'s bound, gap-free from the history on', async () => {
    const topic = `${await keyOwnedBy(IDS, 'burst')}/telemetry`
    await publishPaced(publisher, topic, 0, 5, 100) // the stored history
    const { page, hubModules, errors } = await openUi('topics')
    await openTopic(page, topic)
    await waitFor(async () => (await liveState(page, '.topic-detail')) === 'channel', 'the topic detail live via channel', 10_000, 50)
    // The client module and its contract came from the hub: no 404, no CSP refusal.
    expect(Object.fromEntries(hubModules)).toEqual({ '/hub/client/channels.js': 200, '/hub/contract/channels.js': 200 })
    expect(await page.textContent('.topic-detail .live-status')).toBe('live via channel (a)')
    const history = await shownSeqs(page)
    expect(history).toHaveLength(5)
    const first = history.at(-1) as number
    const newest = history[0] as number
    await recordTopicDetail(page)

    const tookMs = await publishPaced(publisher, topic, 5, BURST, BURST_PER_S)
    const rate = BURST / (tookMs / 1000)
    console.log(`burst: ${BURST} messages in ${Math.round(tookMs)} ms (${Math.round(rate)} msg/s)`)
    expect(rate).toBeGreaterThan(250) // above the tap's 200 msg/s: the tap alone would skip some
    const last = newest + BURST
    await waitFor(async () => (await seenSeqs(page)).includes(last), `seq ${last} shown`, 20_000, 100)
    expectEvery(await seenSeqs(page), first, last)
    // The list now: the newest 500, strictly one apart, the newest payload the last published.
    const shown = await shownSeqs(page)
    expect(shown).toEqual(Array.from({ length: 500 }, (_, i) => last - i))
    expect(await page.textContent('.topic-detail .history li:first-child .payload')).toBe(`{"n":${BURST + 4}}`)
    expect(await seenStates(page)).toEqual(['channel'])
    await ui.screenshot(page, 'ui-topic-live-channel')
    expect(errors).toEqual([])
  }, 90_000)

  it('the device detail\'s telemetry follows the device over the channel, well within the 2 s poll, without polling', async () => {
    const device = await connect(mqttUrl('c'), { clientId: 'dev-live', clean: true })
    clients.push(device)
    await device.publishAsync('devices/dev-live/temp', '{"v":"initial"}', { qos: 1 })
    const { page, requests, errors } = await openUi('devices')
    const polls = (): string[] => requests.filter((u) => u.includes('/api/v1/topics?') && u.includes(`prefix=${encodeURIComponent('devices/dev-live/')}`))
    await page.fill('.device-search', 'dev-live')
    await page.click('.device-row[data-device="dev-live"]', { timeout: 10_000 })
    const row = '.device-detail .telemetry tr[data-topic="devices/dev-live/temp"] .payload'
    await page.waitForSelector(`${row}:has-text("initial")`, { timeout: 10_000 })
    await waitFor(async () => (await liveState(page, '.device-detail')) === 'channel', 'the device detail live via channel', 10_000, 50)
    expect(polls()).toHaveLength(1) // the one initial read

    for (const k of [1, 2, 3]) {
      const started = performance.now()
      await device.publishAsync('devices/dev-live/temp', `{"v":"live-${k}"}`, { qos: 1 })
      await page.waitForSelector(`${row}:has-text("live-${k}")`, { timeout: 2_000 })
      const tookMs = performance.now() - started
      console.log(`telemetry value ${k} shown after ${Math.round(tookMs)} ms`)
      expect(tookMs).toBeLessThan(1_000)
    }
    // A topic the device had not used before appears too.
    await device.publishAsync('devices/dev-live/humidity', '41', { qos: 1 })
    await page.waitForSelector('.device-detail .telemetry tr[data-topic="devices/dev-live/humidity"] .payload:has-text("41")', { timeout: 2_000 })
    // No poll while live: more than a poll interval passes.
    await sleep(2_500)
    expect(polls()).toHaveLength(1)
    expect(await liveState(page, '.device-detail')).toBe('channel')
    await ui.screenshot(page, 'ui-device-live-channel')

    // The join is the ring's to see (presence): it goes when the tab is hidden, and comes back.
    const watcher = await RawChannel.open(ring.hub('b').ports.admin, { headers: { authorization: `Bearer ${TOKEN}` } })
    try {
      const members = async (): Promise<number> => {
        const reply = await watcher.request({ op: 'presence', topic: 'devices/dev-live/#' })
        return reply.op === 'ok' ? (reply.members ?? []).length : -1
      }
      expect(await members()).toBe(1)
      await page.click('[data-tab-link="ring"]')
      await waitFor(async () => (await members()) === 0, 'the join left with the tab hidden', 5_000, 100)
      await page.click('[data-tab-link="devices"]')
      await waitFor(async () => (await members()) === 1, 'the join back with the tab shown', 5_000, 100)
      await waitFor(async () => (await liveState(page, '.device-detail')) === 'channel', 'live again', 5_000, 50)
      await device.publishAsync('devices/dev-live/temp', '{"v":"after-hide"}', { qos: 1 })
      await page.waitForSelector(`${row}:has-text("after-hide")`, { timeout: 2_000 })
      expect(polls()).toHaveLength(2) // shown again: read once more
    } finally {
      watcher.ws.close()
    }
    expect(errors).toEqual([])
  }, 60_000)

  it('without a channel (no /channels answers, or the client module is missing) the views fall back to the tap and to polling, and say so', async () => {
    const topic = `${await keyOwnedBy(IDS, 'fallback')}/telemetry`
    await publishPaced(publisher, topic, 0, 3, 100)
    // An older hub, or a proxy that does not pass WebSockets: /channels never answers a join.
    const refused = await openUi('topics', { prepare: (c) => c.routeWebSocket(/\/channels/, (ws) => { ws.close() }) })
    await openTopic(refused.page, topic)
    await waitFor(async () => (await liveState(refused.page, '.topic-detail')) === 'tap', 'the topic detail on the tap', 10_000, 50)
    expect(await refused.page.textContent('.topic-detail .live-status')).toBe('live via sampled tap (no channel)')
    expect(await refused.page.getAttribute('.topic-detail .live-status', 'title')).toContain('no hub acknowledged the join')
    // The tap still brings new messages (slowly published: it samples none away).
    await publishPaced(publisher, topic, 3, 3, 10)
    await refused.page.waitForSelector('.topic-detail .history li:first-child .payload:text("{\\"n\\":5}")', { timeout: 10_000 })
    // The control for the first test: a burst above the tap's bound shows with gaps on the tap.
    const before = (await shownSeqs(refused.page))[0] as number
    await recordTopicDetail(refused.page)
    await publishPaced(publisher, topic, 6, 600, BURST_PER_S)
    await sleep(2_000)
    const onTap = (await seenSeqs(refused.page)).filter((seq) => seq > before)
    console.log(`on the tap: ${onTap.length} of 600 messages shown`)
    expect(onTap.length).toBeGreaterThan(0)
    expect(onTap.length).toBeLessThan(600)
    expect(refused.errors).toEqual([])

    const missing = await openUi('devices', { prepare: (c) => c.route('**/hub/client/channels.js', (r) => r.fulfill({ status: 404, body: '' })) })
    const polls = (): number => missing.requests.filter((u) => u.includes('/api/v1/topics?') && u.includes(`prefix=${encodeURIComponent('devices/dev-live/')}`)).length
    await missing.page.fill('.device-search', 'dev-live')
    await missing.page.click('.device-row[data-device="dev-live"]', { timeout: 10_000 })
    await waitFor(async () => (await liveState(missing.page, '.device-detail')) === 'polling', 'the device detail polling', 10_000, 50)
    expect(await missing.page.textContent('.device-detail .live-status')).toBe('polling every 2 s (no channel)')
    expect(await missing.page.getAttribute('.device-detail .live-status', 'title')).toContain('channel client not loaded')
    await waitFor(() => polls() >= 3, 'the telemetry polled every 2 s', 8_000, 100)
    expect(missing.errors).toEqual([])
  }, 60_000)

  it('the desktop app\'s bundled copy (copy-renderer-static.js, served by the app\'s scheme handler under its CSP) loads the client and goes live', async () => {
    // What `npm run desktop` / `npm run dist` package: the compiled renderer plus the script's copies.
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-bundle-'))
    cpSync(join(REPO_ROOT, 'ui', 'dist', 'renderer'), dir, { recursive: true })
    rmSync(join(dir, 'hub'), { recursive: true, force: true }) // only what the script copies now
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/copy-renderer-static.js'), dir], { stdio: 'pipe' })
    // Headless Chromium cannot register ringhub-app://; the app's handler answers over HTTP, unchanged (as in ui-desktop).
    const ringView = await (await fetch(`${admin('a')}/api/v1/ring`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as RingView
    const csp = contentSecurityPolicy(hubOrigin(admin('a')), channelSources(ringView, hubOrigin(admin('a'))))
    const handle = appProtocolHandler({ rootDir: dir, readFile: (p) => readFile(p), csp: () => csp })
    const server: Server = createServer((req, res) => {
      void handle({ url: `${APP_SCHEME}://${APP_HOST}${req.url ?? '/'}`, method: req.method ?? 'GET' }).then(async (answer) => {
        res.writeHead(answer.status, Object.fromEntries(answer.headers))
        res.end(Buffer.from(await answer.arrayBuffer()))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const topic = `${await keyOwnedBy(IDS, 'bundle')}/telemetry`
      await publishPaced(publisher, topic, 0, 3, 100)
      const { page, hubModules, errors } = await openUi('topics', { pageUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`, dataHub: 'a' })
      await openTopic(page, topic)
      await waitFor(async () => (await liveState(page, '.topic-detail')) === 'channel', 'the bundled copy live via channel', 10_000, 50)
      expect(Object.fromEntries(hubModules)).toEqual({ '/hub/client/channels.js': 200, '/hub/contract/channels.js': 200 })
      await publishPaced(publisher, topic, 3, 2, 100)
      await page.waitForSelector('.topic-detail .history li:first-child .payload:text("{\\"n\\":4}")', { timeout: 5_000 })
      expect(errors).toEqual([])
      // The app's policy lets the page reach the other hubs' /channels (where the client fails
      // over to: channelSources), and nothing else of them.
      const wsOpens = (url: string): Promise<string> => page.evaluate(`new Promise((resolve) => {
        const ws = new WebSocket(${JSON.stringify(url)})
        ws.onopen = () => { ws.close(); resolve('open') }
        ws.onerror = () => resolve('error')
      })`)
      const b = `127.0.0.1:${ring.hub('b').ports.admin}`
      expect(await wsOpens(`ws://${b}/channels?token=${TOKEN}`)).toBe('open')
      expect(await wsOpens(`ws://${b}/api/v1/ws?token=${TOKEN}`)).toBe('error')
      const refusedByCsp = (e: string): boolean => e.includes(`Connecting to 'ws://${b}/api/v1/ws`) && e.includes('violates the following Content Security Policy directive')
      expect(errors.filter((e) => !refusedByCsp(e))).toEqual([])
      expect(errors.some(refusedByCsp)).toBe(true)
    } finally {
      await new Promise((resolve) => server.close(resolve))
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('failover: the hub the UI talks to stops; the topic detail continues on another hub without a gap', async () => {
    // The page from hub a, its data (and so its channel, first in the list) from hub b; the key
    // on a or c, so publishing goes on while b is gone.
    const topic = `${await keyOwnedBy(['a', 'c'], 'failover')}/telemetry`
    await publishPaced(publisher, topic, 0, 5, 100)
    const { page, errors } = await openUi('topics', { dataHub: 'b' })
    await openTopic(page, topic)
    await waitFor(async () => (await liveState(page, '.topic-detail')) === 'channel', 'the topic detail live via channel', 10_000, 50)
    expect(await page.textContent('.topic-detail .live-status')).toBe('live via channel (b)')
    const history = await shownSeqs(page)
    const first = history.at(-1) as number
    const newest = history[0] as number
    await recordTopicDetail(page)

    // 100 msg/s throughout: before, while and after hub b stops.
    let n = 5
    let publishing = true
    const acks: Array<Promise<unknown>> = []
    const load = (async () => {
      while (publishing) {
        acks.push(publisher.publishAsync(topic, JSON.stringify({ n: n++ }), { qos: 1 }))
        await sleep(10)
      }
    })()
    try {
      await waitFor(async () => (await seenSeqs(page)).length > 100, 'messages before the stop', 10_000, 100)
      await ring.hub('b').stop()
      await waitFor(async () => /^live via channel \((a|c)\)$/.test(await page.textContent('.topic-detail .live-status') ?? ''), 'the channel on another hub', 15_000, 50)
      const after = (await seenSeqs(page)).length
      await waitFor(async () => (await seenSeqs(page)).length > after + 100, 'messages after the failover', 15_000, 100)
    } finally {
      publishing = false
      await load
    }
    await Promise.all(acks)
    const last = newest + (n - 5)
    await waitFor(async () => (await seenSeqs(page)).includes(last), `seq ${last} shown`, 15_000, 100)
    expectEvery(await seenSeqs(page), first, last)
    const states = await seenStates(page)
    expect(states[0]).toBe('channel')
    expect(states.at(-1)).toBe('channel')
    expect(states).not.toContain('tap') // never fell back to the sampled tap
    console.log(`failover: ${n - 5} messages, live states ${states.join(' → ')}, now ${await page.textContent('.topic-detail .live-status')}`)
    await ui.screenshot(page, 'ui-topic-live-failover')
    expect(errors).toEqual([])
  }, 90_000)
})
