import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { oneRing, ringOf, stateIn } from '../helpers/admin.js'
import { stopHub } from '../helpers/hubs.js'
import { RingFixture } from '../helpers/ring-fixture.js'
import { UiBrowser } from '../helpers/ui-browser.js'
import { waitFor } from '../helpers/wait.js'

// The Ring tab in real Chromium against three real hub processes (default `lan` profile: its
// suspicion lasts at least 4 s, so the UI's suspect state is observable), served by h1 itself.
const ring = new RingFixture([])
let ui: UiBrowser
let page: Page

/** What the hub table shows: hub id → state and share, read from the rendered rows. */
async function table(p: Page): Promise<Map<string, { state: string, share: number }>> {
  const rows = await p.$$eval('table.hubs tbody tr[data-hub]', (trs) => trs.map((tr) => [tr.getAttribute('data-hub'), tr.getAttribute('data-state'), tr.getAttribute('data-share')]))
  return new Map(rows.map(([id, state, share]) => [id as string, { state: state as string, share: Number(share) }]))
}

async function arcOwners(p: Page): Promise<Set<string>> {
  return new Set(await p.$$eval('svg.ring-circle path.arc', (paths) => paths.map((el) => el.getAttribute('data-owner') as string)))
}

beforeAll(async () => {
  await ring.spawn('h1')
  await Promise.all([ring.spawn('h2', 'h1'), ring.spawn('h3', 'h1')])
  await waitFor(async () => oneRing(await ring.views(['h1', 'h2', 'h3']), ['h1', 'h2', 'h3']), 'one ring of three', 15_000, 50)
  ui = await UiBrowser.launch()
  page = await ui.open(`http://${ring.admin('h1')}/#ring`)
}, 60_000)

afterAll(async () => {
  await ui?.close()
  await ring.cleanup()
})

describe('the Ring tab', () => {
  it('is served by the hub and shows three alive hubs whose shares sum to 100 %, with their arcs', async () => {
    const rows = await waitFor(async () => {
      const t = await table(page)
      return t.size === 3 && [...t.values()].every((r) => r.state === 'alive') ? t : undefined
    }, 'three alive hubs in the table', 10_000, 100)
    const sum = [...rows.values()].reduce((s, r) => s + r.share, 0)
    expect(sum).toBeCloseTo(1, 6)
    expect(Number(await page.getAttribute('[data-total-share]', 'data-total-share'))).toBeCloseTo(1, 6)
    for (const r of rows.values()) expect(r.share).toBeGreaterThan(0.15)
    expect(await arcOwners(page)).toEqual(new Set(['h1', 'h2', 'h3']))
    // The arcs computed in the browser are the hub's own: the checksums agree.
    expect(await page.getAttribute('svg.ring-circle', 'data-exact')).toBe('true')
    await ui.screenshot(page, 'ui-ring')
  })

  it('looks a topic up: the owner the hub names is shown and highlighted', async () => {
    const answer = await (await fetch(`http://${ring.admin('h2')}/api/ring/owner?topic=devices/d42/telemetry`)).json() as { owner: string, replicas: string[] }
    await page.fill('.lookup-input', 'devices/d42/telemetry')
    await page.click('.lookup button')
    await page.waitForSelector(`.lookup-result strong[data-owner="${answer.owner}"]`, { timeout: 5_000 })
    await page.waitForSelector(`tr[data-hub="${answer.owner}"].hl-owner`, { timeout: 5_000 })
    expect(await page.$$('svg.ring-circle line.ring-marker')).toHaveLength(1)
    // Arcs of hubs outside the replica set are dimmed.
    const dimmed = new Set(await page.$$eval('path.arc.dim', (ps) => ps.map((p) => p.getAttribute('data-owner'))))
    for (const id of ['h1', 'h2', 'h3']) expect(dimmed.has(id)).toBe(!answer.replicas.includes(id))
  })

  it('shows a hub killed with SIGKILL as suspect, then dead, moves its arcs to the survivors, and shows it alive after a restart', async () => {
    // Every state the page shows for h3, in order (rows are redrawn, so watch the whole table).
    // (Browser code as a string: the test project has no DOM types.)
    await page.evaluate(`(() => {
      const seen = window.seenH3 = []
      const record = () => {
        const state = document.querySelector('tr[data-hub="h3"]')?.getAttribute('data-state')
        if (state && seen[seen.length - 1] !== state) seen.push(state)
      }
      new MutationObserver(record).observe(document.querySelector('table.hubs tbody'), { childList: true, subtree: true, attributes: true })
      record()
    })()`)
    const gossipPort = ring.hub('h3').ports.gossip
    await stopHub(ring.hub('h3'), 'SIGKILL')
    await waitFor(async () => (await table(page)).get('h3')?.state === 'dead', 'h3 dead in the UI', 40_000, 100)
    const seen = await page.evaluate('window.seenH3') as string[]
    expect(seen).toEqual(['alive', 'suspect', 'dead'])
    await waitFor(async () => {
      const owners = await arcOwners(page)
      return owners.size === 2 && owners.has('h1') && owners.has('h2')
    }, 'arcs of h1 and h2 only', 5_000, 100)
    // The owner lookup follows the move, and the timeline beside the ring tells what happened.
    await waitFor(async () => {
      const owner = await page.getAttribute('.lookup-result strong', 'data-owner')
      return owner === (await (await fetch(`http://${ring.admin('h1')}/api/ring/owner?topic=devices/d42/telemetry`)).json() as { owner: string }).owner && owner !== 'h3'
    }, 'the lookup to name a survivor', 5_000, 100)
    await page.waitForSelector('.timeline li[data-type="memberSuspected"][data-member="h3"]', { timeout: 10_000 })
    await page.waitForSelector('.timeline li[data-type="memberDied"][data-member="h3"]', { timeout: 10_000 })
    await page.waitForSelector('.timeline li[data-type="ownershipChanged"]', { timeout: 10_000 })
    const rows = await table(page)
    expect(rows.get('h3')?.share).toBe(0)
    expect((rows.get('h1')?.share ?? 0) + (rows.get('h2')?.share ?? 0)).toBeCloseTo(1, 6)
    expect(await page.getAttribute('svg.ring-circle', 'data-exact')).toBe('true')
    await ui.screenshot(page, 'ui-ring-h3-dead')
    // The timeline beside the traffic: the Traffic tab lists the death too, and its charts mark
    // the suspicion and the death where they happened.
    await page.click('[data-tab-link="traffic"]')
    await page.waitForSelector('.traffic-tab .timeline li[data-type="memberDied"][data-member="h3"]', { timeout: 10_000 })
    await waitFor(async () => Number(await page.getAttribute('[data-chart="msgs-in"] canvas', 'data-markers')) >= 2, 'membership markers on the traffic chart', 5_000, 100)
    await ui.screenshot(page, 'ui-traffic-timeline')
    await page.click('[data-tab-link="ring"]')

    // Same data and gossip port, as a service restarts (a new address would wait out the dead
    // member's reclaim time, 30 s in the lan profile).
    await ring.spawn('h3', 'h1', ['--gossip', String(gossipPort)])
    await waitFor(async () => (await table(page)).get('h3')?.state === 'alive', 'h3 alive again in the UI', 30_000, 100)
    await waitFor(async () => (await arcOwners(page)).size === 3, 'arcs of three hubs again', 5_000, 100)
    // Live over the WebSocket, not polling.
    expect(await page.getAttribute('.status', 'data-socket')).toBe('open')
    await ui.screenshot(page, 'ui-ring-h3-back')
    expect(ui.errors).toEqual([])
  }, 90_000)

  it('reconnects its WebSocket when the hub it talks to is killed and comes back, and is live again', async () => {
    const { admin, gossip } = ring.hub('h1').ports
    const incarnation = async (): Promise<number> => Number(await page.getAttribute('tr[data-hub="h1"]', 'data-incarnation'))
    const before = await incarnation()
    await stopHub(ring.hub('h1'), 'SIGKILL')
    await waitFor(async () => (await page.getAttribute('.status', 'data-socket')) !== 'open', 'the UI to notice its hub is gone', 10_000, 50)
    // The HTTP feeds fail too, and the status line says so.
    await page.waitForSelector('.status .warn', { timeout: 10_000 })
    // Where it was, so the page's own origin answers again.
    await ring.spawn('h1', 'h2', ['--admin', String(admin), '--gossip', String(gossip)])
    await waitFor(async () => (await page.getAttribute('.status', 'data-socket')) === 'open', 'the socket live again', 20_000, 100)
    await waitFor(async () => {
      const t = await table(page)
      return t.size === 3 && [...t.values()].every((r) => r.state === 'alive')
    }, 'three alive hubs after the reconnect', 30_000, 100)
    // A restart raises the incarnation: the table shows the new h1, not what it held before.
    await waitFor(async () => (await incarnation()) > before, 'h1 at a higher incarnation', 10_000, 100)
    await waitFor(async () => (await page.$('.status .warn')) === null, 'every feed answering again', 10_000, 100)
    expect(ui.errors).toEqual([])
  }, 60_000)

  it('forgets a dead hub with two clicks on its Forget button: it counts as left, here and at the other hubs', async () => {
    await waitFor(async () => [...(await table(page)).values()].every((r) => r.state === 'alive'), 'three alive hubs', 30_000, 100)
    expect(await page.$$('button[data-forget]'), 'no Forget on a live hub').toHaveLength(0)
    await stopHub(ring.hub('h2'), 'SIGKILL')
    await waitFor(async () => (await table(page)).get('h2')?.state === 'dead', 'h2 dead in the UI', 40_000, 100)
    expect(await page.$$eval('button[data-forget]', (bs) => bs.map((b) => b.getAttribute('data-forget'))), 'Forget on the dead hub only').toEqual(['h2'])
    await page.click('button[data-forget="h2"]')
    // The first click only asks for a second one: nothing is sent yet.
    await page.waitForSelector('button[data-forget="h2"].armed', { timeout: 5_000 })
    expect(await page.textContent('button[data-forget="h2"]')).toContain('Click again')
    expect((await table(page)).get('h2')?.state).toBe('dead')
    await ui.screenshot(page, 'ui-ring-forget-armed')
    await page.click('button[data-forget="h2"].armed')
    await page.waitForSelector('.forget-result [data-forgot="h2"]', { timeout: 10_000 })
    expect(await page.textContent('.forget-result')).toContain('was dead')
    // The page's hub counts it as left (or has dropped it already), and so does h3, by gossip.
    await waitFor(async () => (await table(page)).get('h2')?.state !== 'dead', 'h2 no longer dead in the UI', 10_000, 100)
    expect(['left', undefined]).toContain((await table(page)).get('h2')?.state)
    await waitFor(async () => ['left', undefined].includes(stateIn(await ringOf(ring.admin('h3')), 'h2')), 'h2 left in h3\'s view', 15_000, 100)
    await ui.screenshot(page, 'ui-ring-h2-forgotten')
    expect(ui.errors).toEqual([])
  }, 90_000)
})
