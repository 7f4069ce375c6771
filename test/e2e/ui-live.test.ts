import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { startRing } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The Traffic, Topics and Devices tabs in real Chromium against a 3-hub ring (in-process hubs
// on real sockets) with a small fleet of MQTT devices: telemetry every 200 ms, and commands
// answered in the device agent's convention (docs/agent.md "Commands").
const IDS = ['a', 'b', 'c']
const DEVICES = ['dev-1', 'dev-2', 'dev-3']
let ring: Awaited<ReturnType<typeof startRing>>
let ui: UiBrowser
let page: Page
const clients: MqttClient[] = []
const timers: Array<ReturnType<typeof setInterval>> = []

const mqttUrl = (id: string): string => `mqtt://127.0.0.1:${ring.hub(id).ports.mqtt}`

/** A device on `hub`: JSON telemetry with a counter, and `ping` answered with its arguments (`silent` never). */
async function startDevice(id: string, hub: string): Promise<void> {
  const client = await connect(mqttUrl(hub), { clientId: id, clean: true })
  clients.push(client)
  client.on('message', (topic, payload) => {
    const m = /^devices\/[^/]+\/cmd\/([^/]+)$/.exec(topic)
    if (!m || m[1] === 'silent') return
    const req = JSON.parse(payload.toString()) as { id: string, args: unknown }
    client.publish(`${topic}/res`, JSON.stringify({ id: req.id, ok: true, value: { pong: req.args, from: id } }), { qos: 1 })
  })
  await client.subscribeAsync(`devices/${id}/cmd/+`, { qos: 1 })
  let n = 0
  timers.push(setInterval(() => {
    n++
    client.publish(`devices/${id}/telemetry`, JSON.stringify({ n, temp: 20 + (n % 5), unit: 'C' }), { qos: 1 })
  }, 200))
}

async function rowCount(p: Page, selector: string): Promise<number> {
  return (await p.$$(selector)).length
}

beforeAll(async () => {
  ring = await startRing(IDS)
  await Promise.all(DEVICES.map((d, i) => startDevice(d, IDS[i % IDS.length] as string)))
  ui = await UiBrowser.launch()
  page = await ui.open(`http://127.0.0.1:${ring.hub('a').ports.admin}/#traffic`)
}, 60_000)

afterAll(async () => {
  for (const t of timers) clearInterval(t)
  await close(...clients)
  await ui?.close()
  await ring?.stop()
})

describe('the live tabs', () => {
  it('Traffic: the message charts move', async () => {
    const points = async (): Promise<number> => Number(await page.getAttribute('[data-chart="msgs-in"] canvas', 'data-points') ?? 0)
    const first = await waitFor(async () => { const n = await points(); return n > 0 ? n : undefined }, 'points on the msgs-in chart', 10_000, 100)
    await waitFor(async () => (await points()) > first, 'the msgs-in chart to gain points', 10_000, 100)
    await waitFor(async () => Number(await page.getAttribute('[data-chart="msgs-in"] canvas', 'data-latest')) > 0, 'a non-zero message rate', 10_000, 100)
    await ui.screenshot(page, 'ui-traffic')
  })

  it('Topics: the tree lists the devices\' topics, and a message\'s diff against the previous one renders', async () => {
    await page.click('[data-tab-link="topics"]')
    await page.fill('.tree-filter', 'telemetry')
    for (const d of DEVICES) await page.waitForSelector(`.tree-row[data-topic="devices/${d}/telemetry"]`, { timeout: 10_000 })
    await page.click('.tree-row[data-topic="devices/dev-1/telemetry"]')
    await page.waitForSelector('.history li', { timeout: 10_000 })
    // Consecutive messages differ in the counter `n`; the unit stays.
    await page.waitForSelector('.json-diff tr.diff-changed[data-path="n"]', { timeout: 10_000 })
    expect(await rowCount(page, '.json-diff tr[data-path="unit"]')).toBe(0)
    expect(await page.textContent('pre.message')).toContain('"unit": "C"')
    await ui.screenshot(page, 'ui-topics')
  })

  it('Topics: a topic\'s history downloads as CSV with one line per message', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button.export-csv')])
    expect(download.suggestedFilename()).toBe('devices_dev-1_telemetry.csv')
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n')
    expect(csv[0]).toBe('time,tsMs,topic,epoch,seq,qos,retain,encoding,payload')
    expect(csv.length).toBeGreaterThan(2)
    expect(csv[1]).toMatch(/^\d{4}-\d\d-\d\dT.*,devices\/dev-1\/telemetry,\d+,\d+,1,false,utf8,"\{""n"":\d+/)
  })

  it('Topics: a publish from the panel reaches an MQTT subscriber on another hub', async () => {
    const sub = await connect(mqttUrl('c'), { clientId: 'ui-test-sub', clean: true })
    clients.push(sub)
    const got = collect(sub)
    await sub.subscribeAsync('ui/test/#', { qos: 1 })
    await page.fill('.pub-topic', 'ui/test/hello')
    await page.fill('.pub-payload', '{"from":"the UI"}')
    await page.selectOption('.pub-qos', '1')
    await page.click('.pub-send')
    await page.waitForSelector('.pub-result .ok', { timeout: 10_000 })
    await waitFor(() => got.find((m) => m.topic === 'ui/test/hello'), 'the published message at the subscriber', 10_000)
    expect(got.find((m) => m.topic === 'ui/test/hello')).toMatchObject({ payload: '{"from":"the UI"}', retain: false })
  })

  it('Devices: lists the fleet online, searches, and a command returns the device\'s response (or times out)', async () => {
    await page.click('[data-tab-link="devices"]')
    for (const d of DEVICES) await page.waitForSelector(`.device-row[data-device="${d}"][data-online="true"]`, { timeout: 10_000 })
    await page.fill('.device-search', 'dev-2')
    await waitFor(async () => (await rowCount(page, '.device-row')) === 1, 'one device after searching dev-2', 5_000, 50)
    await page.click('.device-row[data-device="dev-2"]')
    await page.waitForSelector('.device-detail .telemetry tr[data-topic="devices/dev-2/telemetry"]', { timeout: 10_000 })
    await page.fill('.cmd-name', 'ping')
    await page.fill('.cmd-args', '{"x": 1}')
    await page.click('.cmd-send')
    const ok = await page.waitForSelector('.cmd-result [data-outcome="ok"]', { timeout: 10_000 })
    expect(await ok.textContent()).toContain('"from": "dev-2"')
    expect(await ok.textContent()).toContain('"x": 1')
    await ui.screenshot(page, 'ui-devices')

    await page.fill('.cmd-name', 'silent')
    await page.fill('.cmd-timeout', '300')
    await page.click('.cmd-send')
    const timedOut = await page.waitForSelector('.cmd-result [data-outcome="timeout"]', { timeout: 10_000 })
    expect(await timedOut.textContent()).toContain('timed out')
    expect(ui.errors).toEqual([])
  })
})
