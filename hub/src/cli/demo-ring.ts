import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import type { Clock } from '../base/clock.js'
import type { RingView } from '../contract/ring-view.js'
import { DemoChild, DemoChildError, sleep } from './demo-child.js'
import { hubIds, wishedPorts, type DemoOptions } from './demo-options.js'

export const DEMO_HOST = '127.0.0.1'

/** A hub of the demo: its process and the ports it bound (from its `hub started` log line). */
export interface DemoHub {
  id: string
  process: DemoChild
  ports: { mqtt: number, admin: number, gossip: number }
}

/** Whether TCP `port` (and UDP, for gossip, which uses both) can be bound on loopback now. */
export async function portFree(port: number, udpToo = false): Promise<boolean> {
  if (port === 0) return true
  const tcp = await new Promise<boolean>((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, DEMO_HOST, () => probe.close(() => resolve(true)))
  })
  if (!tcp || !udpToo) return tcp
  return new Promise((resolve) => {
    const probe = createSocket('udp4')
    probe.once('error', () => { probe.close(); resolve(false) })
    probe.bind(port, DEMO_HOST, () => probe.close(() => resolve(true)))
  })
}

/** The `ringhub hub` arguments of demo hub `id`; `join` is the first hub's gossip address. */
export function hubArgs(id: string, data: string, ports: { mqtt: number, admin: number, gossip: number, interHub: number }, join: string | undefined): string[] {
  return [
    'hub', '--id', id, '--host', DEMO_HOST, '--data', data,
    '--mqtt', String(ports.mqtt), '--admin', String(ports.admin), '--gossip', String(ports.gossip), '--inter-hub', String(ports.interHub),
    // Anonymous is safe only because every listener is on loopback.
    '--allow-anonymous', '--profile', 'edge', '--log-level', 'info',
    ...(join ? ['--join', join] : []),
  ]
}

/** The `ports` of a `hub started` JSON log line, if `line` is one. */
export function startedPorts(line: string): DemoHub['ports'] | undefined {
  if (!line.includes('hub started')) return undefined
  try {
    const entry = JSON.parse(line) as { msg?: string, ports?: DemoHub['ports'] }
    return entry.msg === 'hub started' && entry.ports ? entry.ports : undefined
  } catch {
    return undefined
  }
}

/**
 * Starts the hubs: the first one alone (the others join its gossip port), then the rest at once.
 * Each fixed port that is taken becomes an ephemeral one. `started` receives every process as
 * soon as it exists, so the caller can stop it whatever happens next.
 */
export async function startHubs(o: DemoOptions, clock: Clock, started: (hub: DemoChild) => void): Promise<DemoHub[]> {
  const ids = hubIds(o.hubs)
  const startOne = async (id: string, index: number, seed: string | undefined): Promise<DemoHub> => {
    const wish = wishedPorts(o, index)
    const ports = {
      mqtt: await portFree(wish.mqtt) ? wish.mqtt : 0,
      admin: await portFree(wish.admin) ? wish.admin : 0,
      gossip: await portFree(wish.gossip, true) ? wish.gossip : 0,
      interHub: await portFree(wish.interHub) ? wish.interHub : 0,
    }
    const dir = join(o.data, id)
    const child = DemoChild.start(`hub ${id}`, hubArgs(id, dir, ports, seed), join(dir, 'hub.log'))
    started(child)
    const bound = await child.waitForLine(clock, startedPorts, 'its "hub started" line', o.ringDeadlineMs)
    return { id, process: child, ports: bound }
  }
  const first = await startOne(ids[0] as string, 0, undefined)
  const rest = await Promise.all(ids.slice(1).map((id, i) => startOne(id, i + 1, `${DEMO_HOST}:${first.ports.gossip}`)))
  return [first, ...rest]
}

async function ringOf(hub: DemoHub): Promise<RingView> {
  const res = await fetch(`http://${DEMO_HOST}:${hub.ports.admin}/api/ring`, { signal: AbortSignal.timeout(2_000) })
  if (!res.ok) throw new Error(`GET /api/ring answered ${res.status}`)
  return await res.json() as RingView
}

/** What one hub sees: its alive members and checksum, or why it did not answer. */
export type Sight = { alive: string[], checksum: string } | { error: string }

/**
 * Polls every hub's `GET /api/ring` until each sees all of them alive with one checksum. On the
 * deadline it names the hubs that are missing from some view and what each hub saw; a hub that
 * exits meanwhile fails it at once with its log's tail.
 */
export async function waitForRing(hubs: readonly DemoHub[], clock: Clock, deadlineMs: number): Promise<RingView> {
  const ids = hubs.map((h) => h.id)
  const end = clock.monotonicMs() + deadlineMs
  for (;;) {
    const dead = hubs.find((h) => !h.process.running)
    if (dead) throw new DemoChildError(`hub ${dead.id} exited while the ring formed; the end of ${dead.process.logPath}:\n${dead.process.tail()}`)
    const sights: Sight[] = await Promise.all(hubs.map(async (h) => {
      try {
        const view = await ringOf(h)
        return { alive: view.members.filter((m) => m.state === 'alive').map((m) => m.id), checksum: view.checksum }
      } catch (err) {
        return { error: (err as Error).message }
      }
    }))
    const ok = sights.every((s) => 'alive' in s && ids.every((id) => s.alive.includes(id)) && s.alive.length === ids.length)
      && new Set(sights.map((s) => 'checksum' in s ? s.checksum : '')).size === 1
    if (ok) return await ringOf(hubs[0] as DemoHub)
    if (clock.monotonicMs() > end) throw new DemoChildError(ringFailure(hubs, sights, deadlineMs))
    await sleep(clock, 200)
  }
}

export function ringFailure(hubs: readonly DemoHub[], sights: readonly Sight[], deadlineMs: number): string {
  // Name the hubs fewest views hold (b in "a: [a, c], b: [b], c: [a, c]"), and those that did not answer.
  const views = sights.filter((s): s is Extract<Sight, { alive: string[] }> => 'alive' in s)
  const seenBy = hubs.map((h) => views.filter((v) => v.alive.includes(h.id)).length)
  const fewest = Math.min(...seenBy)
  const missing = hubs.filter((h, i) => 'error' in (sights[i] as Sight) || (fewest < views.length && seenBy[i] === fewest)).map((h) => h.id)
  const lines = hubs.map((h, i) => {
    const s = sights[i] as Sight
    return `  hub ${h.id} (admin ${DEMO_HOST}:${h.ports.admin}, log ${h.process.logPath}): ${'error' in s ? `no answer: ${s.error}` : `sees alive [${s.alive.join(', ')}], checksum ${s.checksum}`}`
  })
  const who = missing.length > 0 ? `hub${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not come up in every view` : 'the hubs did not agree on one checksum'
  return `the ring did not form within ${deadlineMs} ms: ${who}\n${lines.join('\n')}`
}
