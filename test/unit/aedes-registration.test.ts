import { Aedes } from 'aedes'
import { afterEach, describe, expect, it } from 'vitest'

// The patched aedes (patches/aedes+1.2.0.patch): [MQTT-3.1.4-2] a CONNECT with a connected
// client's id takes its place. When several arrive while the previous client is still closing,
// its close calls back at once for all but the first; upstream then counted each of them, and
// `connectedClients` never came back to 0 (seen as a rare fuzz-test failure under load).

/** A client as registerClient sees it: closing takes a turn, and only the registered one unregisters (as the patched close does). */
function stubClient(broker: Aedes, id: string): { id: string, closed: boolean, close: (done?: () => void) => void } {
  const client = {
    id,
    closed: false,
    close(done?: () => void): void {
      if (client.closed) { done?.(); return }
      client.closed = true
      setImmediate(() => {
        const held = (broker as unknown as { clients: Record<string, unknown> }).clients
        // unregisterClient is aedes' own, left out of its typings.
        if (held[id] === client) (broker as unknown as { unregisterClient: (c: unknown) => void }).unregisterClient(client)
        done?.()
      })
    },
  }
  return client
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const brokers: Aedes[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await new Promise<void>((resolve) => b.close(() => resolve())) })

describe('aedes client registration (patched)', () => {
  it('counts one client per id when three take one id over while the first is closing', async () => {
    const broker = await Aedes.createBroker()
    brokers.push(broker)
    const register = (c: ReturnType<typeof stubClient>): void => (broker as unknown as { registerClient: (c: unknown) => void }).registerClient(c)
    const first = stubClient(broker, 'x')
    register(first)
    expect(broker.connectedClients).toBe(1)
    const rivals = [stubClient(broker, 'x'), stubClient(broker, 'x'), stubClient(broker, 'x')]
    for (const r of rivals) register(r)
    for (let i = 0; i < 5; i++) await turn()
    expect(broker.connectedClients).toBe(1)
    const held = (broker as unknown as { clients: Record<string, unknown> }).clients
    const holder = rivals.find((r) => held.x === r)
    expect(holder).toBeDefined()
    // Every other rival was closed in favour of the holder; when the holder goes, nothing is left.
    expect(rivals.filter((r) => r !== holder).every((r) => r.closed)).toBe(true)
    holder?.close()
    for (let i = 0; i < 3; i++) await turn()
    expect(broker.connectedClients).toBe(0)
    expect(Object.keys(held)).toEqual([])
  })
})
