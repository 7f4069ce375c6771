import { connect as netConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { afterEach, describe, expect, it } from 'vitest'
import { startHub, tempDir } from '../helpers/hubs.js'
import { waitFor } from '../helpers/wait.js'

// [MQTT-3.1.4-2]: a CONNECT with the id of a connected client takes its place. Several arriving at
// once (a device reconnecting in a loop, a fuzzer) must leave aedes' count of connected clients
// equal to the clients it holds: a count that drifts never returns to 0.
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

function open(port: number, clientId: string): { socket: Socket, connacked: Promise<void> } {
  const socket = netConnect(port, '127.0.0.1')
  cleanups.push(() => socket.destroy())
  socket.on('error', () => {})
  const connacked = new Promise<void>((resolve) => socket.once('data', () => resolve()))
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 }))
  return { socket, connacked }
}

describe('clients taking over one client id', () => {
  it('counts each connected client once when several take one id over at the same time', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const hub = await startHub(dir.path, { allowAnonymous: true })
    cleanups.push(() => hub.stop())
    for (let round = 0; round < 20; round++) {
      const first = open(hub.ports.mqtt, `dup-${round}`)
      await first.connacked
      const rivals = Array.from({ length: 3 }, () => open(hub.ports.mqtt, `dup-${round}`))
      await Promise.race([Promise.all(rivals.map((r) => r.connacked)), new Promise((r) => setTimeout(r, 500))])
      for (const s of [first, ...rivals]) s.socket.destroy()
    }
    await waitFor(() => hub.broker.connectedClients === 0, 'no client counted as connected', 5_000)
    expect(Object.keys((hub.broker as unknown as { clients: Record<string, unknown> }).clients)).toEqual([])
  })
})
