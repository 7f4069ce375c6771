import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { RingLinksResponse } from '../../hub/src/contract/admin-api.js'
import type { TcpPeerBus } from '../../hub/src/routing/tcp-peer-bus.js'
import { ringOf, stateIn } from '../helpers/admin.js'
import { startRing } from '../helpers/hubs.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// Router links that are down while gossip says every hub is alive (docs/routing.md "Link
// states"): hub c's router stops (its listener and links closed; its gossip goes on, as when a
// firewall blocks the router port alone). GET /api/v1/ring/links on hub a, the links gauge, and
// the Ring tab in real Chromium say which links are down. In-process hubs on real sockets.
const IDS = ['a', 'b', 'c']
let ring: Awaited<ReturnType<typeof startRing>>
let ui: UiBrowser
let page: Page

const admin = (id: string): string => `127.0.0.1:${ring.hub(id).ports.admin}`
async function links(id: string): Promise<RingLinksResponse> {
  const res = await fetch(`http://${admin(id)}/api/v1/ring/links`)
  expect(res.status).toBe(200)
  return await res.json() as RingLinksResponse
}
/** from>to of every link the answer reports, with its state. */
const states = (answer: RingLinksResponse): string[] => answer.links.map((l) => `${l.from}>${l.to} ${l.up ? 'up' : 'down'}`)

async function gauge(id: string, state: 'up' | 'down'): Promise<number> {
  const text = await ring.hub(id).metrics.render()
  return Number(new RegExp(`^ringhub_interhub_links\\{state="${state}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN)
}

beforeAll(async () => {
  ring = await startRing(IDS)
  ui = await UiBrowser.launch()
  page = await ui.open(`http://${admin('a')}/#ring`)
}, 60_000)

afterAll(async () => {
  await ui?.close()
  await ring?.stop()
})

describe('router links', () => {
  it('all six links up: the route, the gauge and the Ring tab agree', async () => {
    const answer = await waitFor(async () => { const l = await links('a'); return l.links.length === 6 && l.links.every((x) => x.up) ? l : undefined }, 'six links up', 10_000, 100)
    expect(answer.hubs).toEqual(IDS)
    expect(states(answer)).toEqual(['a>b up', 'a>c up', 'b>a up', 'b>c up', 'c>a up', 'c>b up'])
    expect(answer.links.every((l) => l.sinceMs <= Date.now())).toBe(true)
    expect([await gauge('a', 'up'), await gauge('a', 'down')]).toEqual([2, 0])
    await page.waitForSelector('.router-links [data-links-up="6"][data-links-down="0"]', { timeout: 10_000 })
    expect(await page.textContent('.router-links')).toContain('all 6 router links up (3 hubs reporting)')
  })

  it('a hub whose router stops while its gossip goes on: the others report their links to it down, and the Ring tab lists them with how long', async () => {
    const stoppedAt = Date.now()
    await (ring.hub('c') as unknown as { parts: { bus: TcpPeerBus } }).parts.bus.close()
    const answer = await waitFor(async () => { const l = await links('a'); return l.links.filter((x) => !x.up).length === 2 ? l : undefined }, 'two links down', 10_000, 100)
    // c cannot be asked over the router any more: its own part is missing.
    expect(answer.hubs).toEqual(['a', 'b'])
    expect(states(answer)).toEqual(['a>b up', 'a>c down', 'b>a up', 'b>c down'])
    for (const l of answer.links.filter((x) => !x.up)) {
      expect(l.sinceMs).toBeGreaterThanOrEqual(stoppedAt)
      expect(l.forMs).toBeLessThanOrEqual(Date.now() - stoppedAt)
    }
    // Gossip still has c alive everywhere: this is not a death.
    expect(stateIn(await ringOf(admin('a')), 'c')).toBe('alive')
    expect([await gauge('a', 'up'), await gauge('a', 'down')]).toEqual([1, 1])
    await page.waitForSelector('.router-links [data-links-down="2"]', { timeout: 10_000 })
    const items = await page.$$eval('.router-links li[data-link]', (lis) => lis.map((li) => [li.getAttribute('data-link'), li.textContent ?? '']))
    expect(items.map(([link]) => link).sort()).toEqual(['a>c', 'b>c'])
    for (const [link, text] of items) expect(text).toMatch(new RegExp(`^${(link as string).replace('>', ' → ')} down for \\d+ s$`))
    expect(await page.textContent('.router-links p')).toBe('2 router links down: messages of keys owned across them stall')
    await ui.screenshot(page, 'ui-ring-links-down')
  })
})
