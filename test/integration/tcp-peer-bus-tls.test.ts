import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { TransportError } from '../../hub/src/base/errors.js'
import type { LinkTls } from '../../hub/src/routing/link-tls.js'
import { echo, meshPeers, publish, startBus } from '../helpers/peer-bus.js'
import { tempDir } from '../helpers/hubs.js'
import { testCa } from '../helpers/tls.js'
import { waitFor } from '../helpers/wait.js'

// TLS on the inter-hub link: both ends present a certificate and verify the other's against the
// cluster CA; the link's handshake (ids, gossip-key proof) runs inside.
const dir = tempDir()
afterAll(() => dir.remove())
const cleanups: Array<() => unknown> = []
afterEach(async () => { while (cleanups.length) await cleanups.pop()?.() })

const cluster = testCa(dir.path, 'cluster')
const other = testCa(dir.path, 'other')
const tlsFor = (ca: typeof cluster, leaf: string, trust = ca.ca): LinkTls => {
  const { cert, key } = ca.issue(leaf)
  return { cert, key, ca: trust }
}
const failure = (p: Promise<unknown>): Promise<TransportError> => p.then(() => { throw new Error('the request succeeded') }, (err: unknown) => err as TransportError)

describe('TLS on the inter-hub link with a cluster CA', () => {
  it('links hubs with certificates from the cluster CA, both ways, with the gossip-key handshake inside', async () => {
    const KEY = randomBytes(32)
    const pair = [
      await startBus('a', cleanups, { tls: tlsFor(cluster, 'a'), authKeys: () => [KEY] }),
      await startBus('b', cleanups, { tls: tlsFor(cluster, 'b'), authKeys: () => [KEY] }),
    ] as const
    pair.forEach((p) => echo(p.bus))
    meshPeers(pair)
    expect(await pair[1].bus.request('a', publish('1'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 1 })
    expect(await pair[0].bus.request('b', publish('2'), 5_000)).toEqual({ t: 'published', epoch: 1, seq: 2 })
    expect([pair[0].bus.stats.dialed, pair[1].bus.stats.accepted]).toEqual([1, 1])
    expect(pair.map((p) => p.bus.stats.rejected)).toEqual([{}, {}])
  })

  it('refuses, and counts, a dialing hub whose certificate another CA signed', async () => {
    const b = await startBus('b', cleanups, { tls: tlsFor(cluster, 'b') })
    echo(b.bus)
    // It trusts the cluster CA (so it accepts b's certificate) but holds another CA's certificate.
    const intruder = await startBus('a', cleanups, { tls: tlsFor(other, 'a', cluster.ca) })
    intruder.bus.setPeers(new Map([['b', b.address]]))
    expect((await failure(intruder.bus.request('b', publish('1'), 5_000))).reason).toMatch(/unreachable|closed/)
    await waitFor(() => (b.bus.stats.rejected.tls ?? 0) >= 1, 'the refusal counted at b')
    expect(b.bus.stats.linked).toBe(0)
    expect(b.bus.linkedPeers()).toEqual([])
  })

  it('refuses, and counts, an accepting hub whose certificate another CA signed', async () => {
    const z = await startBus('z', cleanups, { tls: tlsFor(other, 'z', cluster.ca) })
    echo(z.bus)
    const a = await startBus('a', cleanups, { tls: tlsFor(cluster, 'a') })
    a.bus.setPeers(new Map([['z', z.address]]))
    expect((await failure(a.bus.request('z', publish('1'), 5_000))).reason).toBe('unreachable')
    expect(a.bus.stats.rejected.tls).toBeGreaterThanOrEqual(1)
    expect(a.bus.stats.linked + z.bus.stats.linked).toBe(0)
  })

  it('refuses, and counts, a hub dialing in plain TCP; a plain hub refuses a TLS one', async () => {
    const b = await startBus('b', cleanups, { tls: tlsFor(cluster, 'b') })
    echo(b.bus)
    const plain = await startBus('a', cleanups)
    plain.bus.setPeers(new Map([['b', b.address]]))
    expect((await failure(plain.bus.request('b', publish('1'), 5_000))).reason).toMatch(/unreachable|closed/)
    await waitFor(() => (b.bus.stats.rejected.tls ?? 0) >= 1, 'the refusal counted at b')
    expect(b.bus.stats.linked).toBe(0)

    const plainAcceptor = await startBus('c', cleanups)
    echo(plainAcceptor.bus)
    b.bus.setPeers(new Map([['c', plainAcceptor.address]]))
    expect((await failure(b.bus.request('c', publish('2'), 5_000))).reason).toBe('unreachable')
    // The TLS ClientHello read as a frame header claims hundreds of MiB.
    await waitFor(() => (plainAcceptor.bus.stats.rejected['too-large'] ?? 0) >= 1, 'the refusal counted at c')
    expect(plainAcceptor.bus.stats.linked).toBe(0)
  })
})
