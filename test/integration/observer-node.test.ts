import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { startObserverNode, type ObserverNode } from '../../hub/src/observer/observer-node.js'
import { stateIn } from '../helpers/admin.js'
import { REPO_ROOT, startRing } from '../helpers/hubs.js'
import { waitFor } from '../helpers/wait.js'

const HUBS = ['h1', 'h2', 'h3']
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

function observerIn(view: RingView, id: string): RingView['members'][number] | undefined {
  return view.members.find((m) => m.id === id)
}

function hubShareSum(view: RingView): number {
  return view.members.filter((m) => m.meta.role === 'hub').reduce((sum, m) => sum + m.share, 0)
}

describe('observer node in a real ring', () => {
  it('joins a 3-hub ring as an alive observer that owns no keys, and leaves gracefully', async () => {
    const ring = await startRing(HUBS)
    cleanups.push(() => ring.stop())
    const checksumBefore = ring.hub('h1').cluster.view().checksum
    const observer: ObserverNode = await startObserverNode({
      id: 'desk-1', seeds: [`127.0.0.1:${ring.hub('h2').ports.gossip}`], host: '127.0.0.1', port: 0,
      profile: 'edge', clock: systemClock, log: silentLogger(),
    })
    cleanups.push(() => observer.stop(0))
    const changes: RingView[] = []
    observer.on('changed', (view) => changes.push(view))

    // Every hub sees it alive, as an observer, with no share; the three hubs still own everything.
    const views = await waitFor(() => {
      const all = HUBS.map((id) => ring.hub(id).cluster.view())
      return all.every((v) => stateIn(v, 'desk-1') === 'alive') ? all : undefined
    }, 'every hub to see the observer alive', 10_000, 20)
    for (const view of views) {
      const member = observerIn(view, 'desk-1')
      expect(member?.meta.role).toBe('observer')
      expect(member?.share).toBe(0)
      expect(member?.addresses).toEqual({ gossip: observer.address })
      expect(hubShareSum(view)).toBeCloseTo(1, 9)
      expect(view.checksum).toBe(checksumBefore)
    }

    // The observer sees the ring first-hand: the three hubs, the same checksum, itself at share 0.
    const own = await waitFor(() => {
      const v = observer.view()
      return HUBS.every((id) => stateIn(v, id) === 'alive') ? v : undefined
    }, 'the observer to see three alive hubs', 10_000, 20)
    expect(own.self).toBe('desk-1')
    expect(own.checksum).toBe(checksumBefore)
    expect(hubShareSum(own)).toBeCloseTo(1, 9)
    expect(observerIn(own, 'desk-1')?.share).toBe(0)
    expect(changes.length).toBeGreaterThan(0)

    // A graceful stop is a leave: every hub marks it left (not suspect, not dead).
    await observer.stop()
    await waitFor(() => HUBS.every((id) => stateIn(ring.hub(id).cluster.view(), 'desk-1') === 'left'), 'every hub to mark the observer left', 10_000, 20)
    expect(ring.hub('h1').cluster.view().checksum).toBe(checksumBefore)
  })

  it('rejoins with the same id after a leave, above the incarnation the ring remembers', async () => {
    const ring = await startRing(['h1', 'h2'])
    cleanups.push(() => ring.stop())
    const options = { id: 'desk-2', seeds: [`127.0.0.1:${ring.hub('h1').ports.gossip}`], host: '127.0.0.1', port: 0, profile: 'edge' as const, clock: systemClock, log: silentLogger() }
    const first = await startObserverNode(options)
    await waitFor(() => stateIn(ring.hub('h2').cluster.view(), 'desk-2') === 'alive', 'first run alive', 10_000, 20)
    await first.stop()
    await waitFor(() => stateIn(ring.hub('h2').cluster.view(), 'desk-2') === 'left', 'first run left', 10_000, 20)
    const second = await startObserverNode({ ...options, incarnation: first.incarnation })
    cleanups.push(() => second.stop(0))
    expect(second.incarnation).toBeGreaterThan(first.incarnation)
    await waitFor(() => ['h1', 'h2'].every((id) => stateIn(ring.hub(id).cluster.view(), 'desk-2') === 'alive'), 'second run alive', 10_000, 20)
  })
})

describe('observer node without native modules', () => {
  it('starts and stops in a process where better-sqlite3 and serialport cannot load', async () => {
    // Both loaders are guarded: the ESM resolver (import) and CommonJS Module._load (require from
    // a CommonJS dependency), so a transitive load anywhere fails the run.
    const guard = `
      import { register } from 'node:module'
      import Module from 'node:module'
      const NATIVE = /^(better-sqlite3|serialport|@serialport\\/.*|bindings|node-gyp-build)$/
      const load = Module._load
      Module._load = function (request, ...rest) {
        if (NATIVE.test(request)) throw new Error('native module ' + request + ' required')
        return load.call(this, request, ...rest)
      }
      register('data:text/javascript,' + encodeURIComponent(\`
        export async function resolve(specifier, context, next) {
          if (/^(better-sqlite3|serialport|@serialport\\\\/.*)$/.test(specifier)) throw new Error('native module ' + specifier + ' imported')
          return next(specifier, context)
        }\`))
    `
    const script = `
      const blocked = await import('better-sqlite3').then(() => 'loaded', () => 'blocked')
      const { startObserverNode } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'hub/dist/observer/observer-node.js')).href)})
      const { systemClock } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'hub/dist/base/system-clock.js')).href)})
      const { silentLogger } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'hub/dist/base/log.js')).href)})
      const node = await startObserverNode({ id: 'lonely', seeds: [], host: '127.0.0.1', port: 0, clock: systemClock, log: silentLogger() })
      const view = node.view()
      await node.stop(0)
      console.log(JSON.stringify({ blocked, self: view.self, role: view.members[0].meta.role, share: view.members[0].share }))
    `
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(guard)}`, '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    cleanups.push(async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
    expect(err).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(out.trim())).toEqual({ blocked: 'blocked', self: 'lonely', role: 'observer', share: 0 })
  })
})
