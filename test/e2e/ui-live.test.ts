import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import { pino } from 'pino'
import { seededRng } from '../../device-agent/dist/base/rng.js'
import { systemClock } from '../../device-agent/dist/base/system-clock.js'
import { SimDevice } from '../../firmware-sim/src/fleet/sim-device.js'
import { startRing } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The Traffic, Topics and Devices tabs in real Chromium against a 3-hub ring (in-process hubs
// on real sockets) with a small simulated fleet: firmware-sim's devices (telemetry every 200 ms,
// `ping` answered, other commands refused) and one device that never answers commands.
const IDS = ['a', 'b', 'c']
const DEVICES = ['dev-1', 'dev-2', 'dev-3']
const SEED = 6
let ring: Awaited<ReturnType<typeof startRing>>
let ui: UiBrowser
let page: Page
const clients: MqttClient[] = []
const fleet: SimDevice[] = []
const timers: Array<ReturnType<typeof setInterval>> = []

const mqttUrl = (id: string): string => `mqtt://127.0.0.1:${ring.hub(id).ports.mqtt}`

/** The fleet: device i connects to hub i mod 3 (failing over to the others) and sends a reading every 200 ms. */
async function startFleet(): Promise<void> {
  console.log(`fleet seed ${SEED}`)
  const rng = seededRng(SEED)
  const log = pino({ level: 'silent' })
  const hubs = IDS.map(mqttUrl)
  const connected = new Set<string>()
  DEVICES.forEach((name, i) => fleet.push(new SimDevice({
    name, hubs, startIndex: i % hubs.length, qos: 1, persistent: false, maxUnacked: 1000,
    clock: systemClock, rng, log, onConnected: (d) => connected.add(d.name),
  })))
  for (const d of fleet) d.link.start()
  await waitFor(() => connected.size === DEVICES.length, 'the fleet connected', 10_000)
  timers.push(setInterval(() => { for (const d of fleet) d.produce(Date.now(), 20 + Math.round(rng.next() * 50) / 10) }, 200))
}

async function rowCount(p: Page, selector: string): Promise<number> {
  return (await p.$$(selector)).length
}

beforeAll(async () => {
  ring = await startRing(IDS)
  await startFleet()
  // A device that never answers commands.
  clients.push(await connect(mqttUrl('b'), { clientId: 'mute-1', clean: true }))
  ui = await UiBrowser.launch()
  page = await ui.open(`http://127.0.0.1:${ring.hub('a').ports.admin}/#traffic`)
}, 60_000)

afterAll(async () => {
  for (const t of timers) clearInterval(t)
  await Promise.all(fleet.map((d) => d.link.stop()))
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
    for (const d of DEVICES) await page.waitForSelector(`.tree-row[data-topic="devices/${d}/telemetry/temp"]`, { timeout: 10_000 })
    await page.click('.tree-row[data-topic="devices/dev-1/telemetry/temp"]')
    await page.waitForSelector('.history li', { timeout: 10_000 })
    // Consecutive readings differ in seq and ts; the device name stays.
    await page.waitForSelector('.json-diff tr.diff-changed[data-path="seq"]', { timeout: 10_000 })
    await page.waitForSelector('.json-diff tr.diff-changed[data-path="ts"]', { timeout: 10_000 })
    expect(await rowCount(page, '.json-diff tr[data-path="device"]')).toBe(0)
    expect(await page.textContent('pre.message')).toContain('"device": "dev-1"')
    // Numeric fields are offered for the chart, and it draws the history.
    expect(await page.$$eval('.field-select option', (os) => os.map((o) => o.getAttribute('value')))).toEqual(['seq', 'ts', 'value'])
    await page.selectOption('.field-select', 'value')
    await waitFor(async () => Number(await page.getAttribute('.field-chart canvas', 'data-points')) > 1, 'the value chart drawn', 5_000, 50)
    await ui.screenshot(page, 'ui-topics')
  })

  it('Topics: a topic\'s history downloads as CSV with one line per message', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button.export-csv')])
    expect(download.suggestedFilename()).toBe('devices_dev-1_telemetry_temp.csv')
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\r\n')
    expect(csv[0]).toBe('time,tsMs,topic,epoch,seq,qos,retain,encoding,payload')
    expect(csv.length).toBeGreaterThan(2)
    expect(csv[1]).toMatch(/^\d{4}-\d\d-\d\dT.*,devices\/dev-1\/telemetry\/temp,\d+,\d+,1,false,utf8,"\{""device"":""dev-1"",""seq"":\d+/)
  })

  it('Topics: a publish from the panel reaches an MQTT subscriber on another hub; a retained one is kept and marked', async () => {
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

    // Retained: a client subscribing later gets it, and the tree marks the topic.
    await page.fill('.pub-topic', 'ui/test/kept')
    await page.fill('.pub-payload', 'on')
    await page.check('.pub-retain')
    await page.click('.pub-send')
    await page.waitForSelector('.pub-result .ok:has-text("ui/test/kept")', { timeout: 10_000 })
    const late = await connect(mqttUrl('b'), { clientId: 'ui-test-late', clean: true })
    clients.push(late)
    const kept = collect(late)
    await late.subscribeAsync('ui/test/kept', { qos: 1 })
    await waitFor(() => kept[0], 'the retained message at a late subscriber', 10_000)
    expect(kept[0]).toMatchObject({ payload: 'on', retain: true })
    await page.fill('.tree-filter', 'kept')
    await page.waitForSelector('.tree-row[data-topic="ui/test/kept"] .retained', { timeout: 10_000 })
  })

  it('Devices: lists the fleet online, searches, and a command shows the device\'s response, its refusal, or the timeout', async () => {
    await page.click('[data-tab-link="devices"]')
    for (const d of [...DEVICES, 'mute-1']) await page.waitForSelector(`.device-row[data-device="${d}"][data-online="true"]`, { timeout: 10_000 })
    await page.fill('.device-search', 'dev-2')
    await waitFor(async () => (await rowCount(page, '.device-row')) === 1, 'one device after searching dev-2', 5_000, 50)
    await page.click('.device-row[data-device="dev-2"]')
    await page.waitForSelector('.device-detail .telemetry tr[data-topic="devices/dev-2/telemetry/temp"]', { timeout: 10_000 })
    await page.fill('.cmd-name', 'ping')
    await page.fill('.cmd-args', '{"x": 1}')
    await page.click('.cmd-send')
    const ok = await page.waitForSelector('.cmd-result [data-outcome="ok"]', { timeout: 10_000 })
    expect(await ok.textContent()).toContain('"pong": true')
    await ui.screenshot(page, 'ui-devices')

    // The device refuses a command it does not know: its error is shown.
    await page.fill('.cmd-name', 'reboot')
    await page.click('.cmd-send')
    const refused = await page.waitForSelector('.cmd-result [data-outcome="unknown-command"]', { timeout: 10_000 })
    expect(await refused.textContent()).toContain('unknown command "reboot"')

    // A device that never answers: the timeout is shown.
    await page.fill('.device-search', 'mute-1')
    await page.click('.device-row[data-device="mute-1"]')
    await page.waitForSelector('.device-title:text("mute-1")', { timeout: 5_000 })
    await page.fill('.cmd-name', 'ping')
    await page.fill('.cmd-timeout', '300')
    await page.click('.cmd-send')
    const timedOut = await page.waitForSelector('.cmd-result [data-outcome="timeout"]', { timeout: 10_000 })
    expect(await timedOut.textContent()).toContain('timed out')
    expect(ui.errors).toEqual([])
  })
})
