import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/src/hub.js'
import { counter, gauge } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { rawConnack } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// Flapping detection on a real hub: a client id that connects more than flapMaxConnects times
// within flapWindowMs is refused (CONNACK 0x05) for flapBanMs, counted; other ids are unaffected.
const MAX_CONNECTS = 5
const BAN_MS = 1_500
const dir = tempDir()
let hub: Hub
const admin = (): string => `127.0.0.1:${hub.ports.admin}`

beforeAll(async () => {
  hub = await startHub(dir.path, { allowAnonymous: true, flapMaxConnects: MAX_CONNECTS, flapWindowMs: 60_000, flapBanMs: BAN_MS })
})
afterAll(async () => {
  await hub?.stop()
  dir.remove()
})

describe('a client id that keeps reconnecting', () => {
  it(`is banned after ${MAX_CONNECTS} connects in the window, for ${BAN_MS} ms, counted, while other ids connect`, async () => {
    const port = hub.ports.mqtt
    for (let i = 0; i < MAX_CONNECTS; i++) expect(await rawConnack(port, { clientId: 'flappy' })).toBe(0)
    expect(await rawConnack(port, { clientId: 'flappy' })).toBe(5)
    expect(await rawConnack(port, { clientId: 'flappy' })).toBe(5)
    expect(await rawConnack(port, { clientId: 'steady' })).toBe(0)
    expect(await gauge(admin(), 'ringhub_flapping_bans_total')).toBe(1)
    expect(await counter(admin(), 'ringhub_auth_failures_total', 'reason="flapping-banned"')).toBe(2)
    const bannedAt = performance.now()
    await waitFor(async () => (await rawConnack(port, { clientId: 'flappy' })) === 0, 'the ban to end', BAN_MS + 3_000, 100)
    expect(performance.now() - bannedAt).toBeGreaterThanOrEqual(BAN_MS - 200)
  })
})
