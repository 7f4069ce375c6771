import { mkdirSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MqttClient } from 'mqtt'
import type { Page } from 'playwright-core'
import type { Hub } from '../../hub/src/hub.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, connect } from '../helpers/mqtt.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The UI render benchmark (issue 6: `npm run bench:ui`, not part of `npm test`: a speed target, and
// too heavy to share two cores with the rest of the suite). Responsiveness under the load:
// 1000 connected devices, 10 000 topics and 2000 msg/s through one hub while the Topics and Devices
// tabs are open. Frame times come from the page's own requestAnimationFrame clock; the issue's
// bound is a p95 of 50 ms. Prints a table and writes bench/results/ui-render-<time>.json; what the
// UI must do under that load (virtualized rows, search beyond one answer) is asserted.
const DEVICES = 1000
const TOPICS_PER_DEVICE = 10
const RATE_PER_S = 2000
const dir = tempDir()
let hub: Hub
let ui: UiBrowser
let page: Page
const devices: MqttClient[] = []
let publisher: MqttClient
let load: ReturnType<typeof setInterval> | undefined

const id = (i: number): string => `load-${String(i).padStart(4, '0')}`

/** Publishes `RATE_PER_S` messages a second over all topics, in 20 ms slices. */
function startLoad(): void {
  let n = 0
  load = setInterval(() => {
    for (let k = 0; k < RATE_PER_S / 50; k++, n++) {
      const d = n % DEVICES
      publisher.publish(`devices/${id(d)}/m${Math.floor(n / DEVICES) % TOPICS_PER_DEVICE}`, JSON.stringify({ n, v: n % 100 }), { qos: 0 })
    }
  }, 20)
}

/** Frame intervals the page sees over `ms`, as p95 and max (ms). */
async function frameTimes(p: Page, ms: number): Promise<{ p95: number, max: number, frames: number }> {
  // (Browser code as a string: the test project has no DOM types.)
  return await p.evaluate(`new Promise((resolve) => {
    const deltas = []
    let last = performance.now()
    const end = last + ${ms}
    const tick = (t) => {
      deltas.push(t - last)
      last = t
      if (t < end) requestAnimationFrame(tick)
      else {
        deltas.sort((a, b) => a - b)
        resolve({ p95: deltas[Math.floor(deltas.length * 0.95)], max: deltas[deltas.length - 1], frames: deltas.length })
      }
    }
    requestAnimationFrame(tick)
  })`)
}

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true })
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
  for (let i = 0; i < DEVICES; i += 100) {
    devices.push(...await Promise.all(Array.from({ length: 100 }, (_, k) => connect(url, { clientId: id(i + k), clean: true, keepalive: 0 }))))
  }
  publisher = await connect(url, { clientId: 'load-publisher', clean: true })
  // Every topic once, so the hub knows all 10 000 before the page opens.
  for (let d = 0; d < DEVICES; d++) {
    for (let m = 0; m < TOPICS_PER_DEVICE; m++) publisher.publish(`devices/${id(d)}/m${m}`, JSON.stringify({ n: 0, v: m }), { qos: 0 })
    if (d % 100 === 99) await publisher.publishAsync('load/sync', 'x', { qos: 1 })
  }
  ui = await UiBrowser.launch()
  page = await ui.open(`http://127.0.0.1:${hub.ports.admin}/#topics`)
  startLoad()
}, 120_000)

/** Frame figures per tab, written at the end. */
const results: Array<{ tab: string, frames: number, p95Ms: number, maxMs: number }> = []
const P95_TARGET_MS = 50

afterAll(async () => {
  if (results.length > 0) {
    const table = ['tab       frames  p95 (ms)  max (ms)  target p95 ≤ 50 ms', ...results.map((r) =>
      `${r.tab.padEnd(8)}  ${String(r.frames).padStart(6)}  ${r.p95Ms.toFixed(1).padStart(8)}  ${r.maxMs.toFixed(1).padStart(8)}  ${r.p95Ms <= P95_TARGET_MS ? 'met' : 'MISSED'}`)]
    console.log(`UI render benchmark: ${DEVICES} devices, ${DEVICES * TOPICS_PER_DEVICE} topics, ${RATE_PER_S} msg/s\n${table.join('\n')}`)
    mkdirSync('bench/results', { recursive: true })
    const file = `bench/results/ui-render-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
    writeFileSync(file, JSON.stringify({ schema: 'ui-render/1', startedAt: new Date().toISOString(), load: { devices: DEVICES, topics: DEVICES * TOPICS_PER_DEVICE, msgsPerS: RATE_PER_S }, targetP95Ms: P95_TARGET_MS, results }, null, 2))
    console.log(`Results: ${file}`)
  }
  clearInterval(load)
  await close(publisher, ...devices)
  await ui?.close()
  await hub?.stop()
  dir.remove()
})

describe('the UI under load', () => {
  it('Topics: frame times with the tree of thousands of topics at 2000 msg/s, with few rows in the DOM', async () => {
    // The hub answers 5000 topics a request; the tap adds others as they pass.
    const topicCount = async (): Promise<number> => {
      const m = /([\d.]+)(k?) topics/.exec(await page.textContent('.tree-panel .summary') ?? '')
      return m ? Number(m[1]) * (m[2] === 'k' ? 1000 : 1) : 0
    }
    await waitFor(async () => (await topicCount()) >= 5000, 'at least 5000 topics in the tree', 20_000, 200)
    await page.click('.tree-row[data-topic="devices"]')
    await page.dblclick('.tree-row[data-topic="devices"]')
    await page.waitForSelector('.tree-row[data-topic^="devices/load-"]', { timeout: 10_000 })
    const frames = await frameTimes(page, 5_000)
    results.push({ tab: 'topics', frames: frames.frames, p95Ms: frames.p95, maxMs: frames.max })
    expect((await page.$$('.tree-row')).length).toBeLessThan(120)
    // Topics beyond the hub's 5000 a request come from the tap, and stay across re-reads.
    await waitFor(async () => (await topicCount()) >= 5_500, 'topics beyond one answer in the tree', 30_000, 200)
    // The measure sees jank when there is some: a 150 ms task on the page's main thread shows.
    const janky = frameTimes(page, 1_000)
    await page.evaluate(`setTimeout(() => { const end = performance.now() + 150; while (performance.now() < end) {} }, 300)`)
    expect((await janky).max).toBeGreaterThanOrEqual(100)
    await ui.screenshot(page, 'ui-load-topics')
  }, 60_000)

  it('Devices: 1000 devices listed, virtualized, searchable and scrollable at 2000 msg/s', async () => {
    await page.click('[data-tab-link="devices"]')
    // The devices and the publisher.
    await waitFor(async () => Number(/(\d+) online/.exec(await page.textContent('.devices-panel .summary') ?? '')?.[1]) === DEVICES + 1, `${DEVICES + 1} clients online`, 20_000, 200)
    expect((await page.$$('.device-row')).length).toBeLessThan(120)
    const frames = await frameTimes(page, 5_000)
    results.push({ tab: 'devices', frames: frames.frames, p95Ms: frames.p95, maxMs: frames.max })
    // Scrolled to the end, the last rows exist (and only those).
    // (Browser code as strings: the test project has no DOM types.)
    const top = async (): Promise<number> => Number(await page.evaluate(`document.querySelector('.device-list').scrollTop`))
    await page.evaluate(`(() => { const el = document.querySelector('.device-list'); el.scrollTop = el.scrollHeight })()`)
    await waitFor(async () => (await top()) > 20_000, 'the list scrolled to its end', 5_000, 50)
    await page.waitForSelector(`.device-row[data-device="${id(DEVICES - 2)}"]`, { timeout: 5_000 })
    expect(await page.$(`.device-row[data-device="${id(0)}"]`)).toBeNull()
    // The hub lists at most 1000 a request, and the ring holds 1001 clients: search finds any.
    for (const d of [id(777), id(DEVICES - 1)]) {
      await page.fill('.device-search', d)
      await page.waitForSelector(`.device-row[data-device="${d}"]`, { timeout: 5_000 })
      await waitFor(async () => (await page.$$('.device-row')).length === 1, `only ${d} after searching`, 5_000, 50)
    }
    await ui.screenshot(page, 'ui-load-devices')
    expect(ui.errors).toEqual([])
  }, 60_000)
})
