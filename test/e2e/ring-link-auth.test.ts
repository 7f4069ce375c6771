import { createHmac, randomBytes } from 'node:crypto'
import { createConnection } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/src/hub.js'
import { FrameKind, FrameReader, encodeFrame } from '../../hub/src/routing/link-frames.js'
import { welcomeMac } from '../../hub/src/routing/link-handshake.js'
import { oneRing } from '../helpers/admin.js'
import { startHub, tempDir } from '../helpers/hubs.js'
import { close, collect, connect } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'

// With gossip keys, the inter-hub link admits only hubs that prove they hold one: the accepting
// hub sends a nonce, the dialing hub's hello carries HMAC-SHA256(key, nonce ‖ id) and a nonce of
// its own, which the accepting hub's welcome answers with HMAC-SHA256(key, "welcome" ‖ nonce ‖ id).
const KEY = randomBytes(32)
const dirs = [tempDir(), tempDir()]
const hubs: Hub[] = []

beforeAll(async () => {
  const keys = [KEY.toString('base64')]
  hubs.push(await startHub((dirs[0] as { path: string }).path, { id: 'ka', allowAnonymous: true, profile: 'edge', gossipKeys: keys }))
  hubs.push(await startHub((dirs[1] as { path: string }).path, { id: 'kb', allowAnonymous: true, profile: 'edge', gossipKeys: keys, join: [`127.0.0.1:${hubs[0]?.ports.gossip}`] }))
  await waitFor(() => oneRing(hubs.map((h) => h.cluster.view()), ['ka', 'kb']), 'one ring of two', 10_000, 20)
})

afterAll(async () => {
  await Promise.all(hubs.map((h) => h.stop()))
  for (const d of dirs) d.remove()
})

/**
 * Opens a raw link connection to kb, answers its challenge with `hello`, and says whether kb kept
 * it open, with the welcome kb sent, if any.
 */
async function tryHello(hello: (nonce: Uint8Array) => unknown): Promise<{ outcome: 'kept' | 'closed', welcome?: { id: string, mac: Uint8Array } }> {
  const address = hubs[0]?.cluster.view().members.find((m) => m.id === 'kb')?.addresses.interHub as string
  const socket = createConnection(Number(address.split(':').at(-1)), '127.0.0.1')
  socket.on('error', () => {})
  const reader = new FrameReader(1 << 20)
  const closed = new Promise<'closed'>((resolve) => socket.on('close', () => resolve('closed')))
  let welcome: { id: string, mac: Uint8Array } | undefined
  socket.on('data', (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) {
      if (frame.kind === FrameKind.challenge) {
        socket.write(encodeFrame(FrameKind.hello, 0, hello((frame.body as { nonce: Uint8Array }).nonce)))
      } else if (frame.kind === FrameKind.welcome) {
        welcome = frame.body as { id: string, mac: Uint8Array }
      }
    }
  })
  const outcome = await Promise.race([closed, new Promise<'kept'>((resolve) => setTimeout(() => resolve('kept'), 500))])
  socket.destroy()
  return { outcome, welcome }
}

const rejected = async (): Promise<number> => {
  const text = await (hubs[1] as Hub).metrics.render()
  return Number(/^ringhub_interhub_rejected_total\{reason="auth-failed"\} (\d+)/m.exec(text)?.[1] ?? 0)
}

describe('inter-hub link authentication with gossip keys', () => {
  it('routes between hubs that hold the key', async () => {
    const key = ['devices/x0', 'devices/x1', 'devices/x2', 'devices/x3', 'devices/x4'].find((k) => hubs[0]?.cluster.ownerOf(`${k}/t`).owner === 'kb') as string
    const sub = await connect(`mqtt://127.0.0.1:${hubs[0]?.ports.mqtt}`)
    const got = collect(sub)
    await sub.subscribeAsync(`${key}/#`, { qos: 1 })
    const pub = await connect(`mqtt://127.0.0.1:${hubs[0]?.ports.mqtt}`)
    await pub.publishAsync(`${key}/t`, 'through kb', { qos: 1 })
    await waitFor(() => got.length === 1, 'delivery through the owner', 5_000)
    await close(sub, pub)
    // One connection between the two, dialed by ka (the smaller id) and accepted by kb.
    const count = async (hub: Hub, event: string): Promise<number> => Number(new RegExp(`^ringhub_interhub_connections_total\\{event="${event}"\\} (\\d+)`, 'm').exec(await hub.metrics.render())?.[1] ?? 0)
    expect([await count(hubs[0] as Hub, 'dialed'), await count(hubs[1] as Hub, 'accepted'), await count(hubs[1] as Hub, 'dialed')]).toEqual([1, 1, 0])
  })

  it('closes and counts a hello without proof or with a proof under another key, and keeps one with the key', async () => {
    const before = await rejected()
    const mine = randomBytes(16)
    expect((await tryHello(() => ({ id: 'intruder', boot: 'b1' }))).outcome).toBe('closed')
    const wrong = randomBytes(32)
    expect((await tryHello((nonce) => ({ id: 'intruder', boot: 'b1', nonce: mine, mac: createHmac('sha256', wrong).update(nonce).update('intruder').digest() }))).outcome).toBe('closed')
    expect(await rejected()).toBe(before + 2)
    // A hub kb does not know yet (k0 < kb, so k0 dials): kept, and kb proves the key back. (A hello
    // naming ka would replace ka's own link, and ka, dialing again, would take it back.)
    const kept = await tryHello((nonce) => ({ id: 'k0', boot: 'b1', nonce: mine, mac: createHmac('sha256', KEY).update(nonce).update('k0').digest() }))
    expect(kept.outcome).toBe('kept')
    expect(kept.welcome?.id).toBe('kb')
    expect(Buffer.from(kept.welcome?.mac ?? [])).toEqual(Buffer.from(welcomeMac(KEY, mine, 'kb')))
  })
})
