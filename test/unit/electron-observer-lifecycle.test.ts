import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { ObserverStatus } from '../../hub/src/contract/desktop-api.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { recordingLog } from '../../ui/src/main/main-log.js'
import { observerBindHost, observerConfigOf, ObserverLifecycle, type ObserverConfig, type ObserverHandle } from '../../ui/src/main/observer-lifecycle.js'
import { defaultSettings } from '../../ui/src/main/settings-fields.js'
import { waitFor } from '../helpers/wait.js'

const CONFIG: ObserverConfig = { id: 'desk-1', seeds: ['10.0.0.2:7946'], gossipKeys: [], clusterLabel: '', profile: 'lan' }

function viewOf(id: string, hubs: number): RingView {
  return {
    apiVersion: 1, self: id, checksum: '00000000',
    members: Array.from({ length: hubs }, (_, i) => ({ id: `h${i + 1}`, state: 'alive' as const, incarnation: 1, addresses: { gossip: `10.0.0.${i + 2}:7946` }, meta: { role: 'hub', version: '0.1.0' }, share: 1 / hubs })),
  }
}

/** Observers that record their life; a start can be held open to test ordering. */
function fakeObservers() {
  const log: string[] = []
  const running = new Set<string>()
  let next = 0
  let gate: Promise<void> | undefined
  let failNext: Error | undefined
  const start = async (config: ObserverConfig, incarnation: number | undefined): Promise<ObserverHandle> => {
    const n = ++next
    log.push(`start#${n} ${config.id} seeds=${config.seeds.join(',')} inc=${incarnation ?? '-'}`)
    if (gate) await gate
    if (failNext) { const err = failNext; failNext = undefined; throw err }
    const name = `${config.id}#${n}`
    // Two observers with one id at once would fight over the member entry.
    if ([...running].some((r) => r.startsWith(`${config.id}#`))) throw new Error(`two observers named ${config.id}`)
    running.add(name)
    const events = new EventEmitter()
    return {
      address: `10.0.0.9:${40000 + n}`,
      incarnation: 100 + n,
      view: () => viewOf(config.id, 3),
      on: (e, l) => events.on(e, l),
      off: (e, l) => events.off(e, l),
      stop: async (leaveTimeoutMs) => { log.push(`stop#${n} leave=${leaveTimeoutMs}`); running.delete(name); events.removeAllListeners() },
    }
  }
  return {
    log, running, start,
    hold: () => { let release!: () => void; gate = new Promise((r) => { release = r }); return () => { gate = undefined; release() } },
    failNextStart: (err: Error) => { failNext = err },
  }
}

function setup() {
  const observers = fakeObservers()
  const statuses: ObserverStatus[] = []
  const lifecycle = new ObserverLifecycle({ start: observers.start, log: recordingLog(), onStatus: (s) => statuses.push(s), leaveTimeoutMs: 500 })
  return { observers, statuses, lifecycle, states: () => statuses.map((s) => s.state) }
}

describe('observer lifecycle', () => {
  it('runs an observer only when seeds are configured', () => {
    expect(observerConfigOf(defaultSettings('box'))).toBeNull()
    expect(observerConfigOf({ ...defaultSettings('box'), seeds: ['h:7946'], observerId: 'd' })).toEqual({ id: 'd', seeds: ['h:7946'], gossipKeys: [], clusterLabel: '', profile: 'lan' })
  })

  it.each([
    [['127.0.0.1:7946', 'localhost:7947', '[::1]:7948'], '127.0.0.1'],
    [['127.0.0.1:7946', '10.0.0.2:7946'], '0.0.0.0'],
    [['hub-1.plant:7946'], '0.0.0.0'],
    [['[fe80::1]:7946'], '0.0.0.0'],
  ])('binds the observer for seeds %j on %s', (seeds, host) => {
    expect(observerBindHost(seeds)).toBe(host)
  })

  it('starts on the first config and reports starting, then running with the ring view', async () => {
    const { observers, statuses, lifecycle, states } = setup()
    await lifecycle.apply(null)
    expect(observers.log).toEqual([])
    expect(statuses).toEqual([])
    await lifecycle.apply(CONFIG)
    expect(observers.log).toEqual(['start#1 desk-1 seeds=10.0.0.2:7946 inc=-'])
    expect(states()).toEqual(['starting', 'running'])
    expect(lifecycle.status).toEqual({ state: 'running', address: '10.0.0.9:40001', error: null, ring: viewOf('desk-1', 3) })
  })

  it('passes ring changes on as statuses', async () => {
    const statuses: ObserverStatus[] = []
    let emit: ((v: RingView) => void) | undefined
    const lc = new ObserverLifecycle({
      start: async () => ({ address: 'a:1', incarnation: 1, view: () => viewOf('d', 3), on: (_e, l) => { emit = l }, off: () => {}, stop: async () => {} }),
      log: recordingLog(), onStatus: (s) => statuses.push(s),
    })
    await lc.apply(CONFIG)
    emit?.(viewOf('d', 2))
    expect(statuses.at(-1)).toEqual({ state: 'running', address: 'a:1', error: null, ring: viewOf('d', 2) })
    expect(lc.status.ring).toEqual(viewOf('d', 2))
  })

  it('keeps a running observer for an equal config, restarts it (stop first) for a changed one', async () => {
    const { observers, lifecycle } = setup()
    await lifecycle.apply(CONFIG)
    await lifecycle.apply({ ...CONFIG, seeds: [...CONFIG.seeds] })
    expect(observers.log).toHaveLength(1)
    await lifecycle.apply({ ...CONFIG, seeds: ['10.0.0.3:7946'] })
    // The new run starts above the old one's incarnation.
    expect(observers.log).toEqual(['start#1 desk-1 seeds=10.0.0.2:7946 inc=-', 'stop#1 leave=500', 'start#2 desk-1 seeds=10.0.0.3:7946 inc=101'])
    expect(lifecycle.status.state).toBe('running')
  })

  it('restarts an unchanged observer when forced (reconnect)', async () => {
    const { observers, lifecycle } = setup()
    await lifecycle.apply(CONFIG)
    await lifecycle.apply(CONFIG, { force: true })
    expect(observers.log).toEqual(['start#1 desk-1 seeds=10.0.0.2:7946 inc=-', 'stop#1 leave=500', 'start#2 desk-1 seeds=10.0.0.2:7946 inc=101'])
  })

  it('stops with a graceful leave when the seeds are removed', async () => {
    const { observers, lifecycle, states } = setup()
    await lifecycle.apply(CONFIG)
    await lifecycle.apply(null)
    expect(observers.log.at(-1)).toBe('stop#1 leave=500')
    expect(observers.running.size).toBe(0)
    expect(states()).toEqual(['starting', 'running', 'off'])
  })

  it('reports a failed start, and a later apply recovers', async () => {
    const { observers, lifecycle, states } = setup()
    observers.failNextStart(new Error('cannot bind UDP 0.0.0.0:7946'))
    await lifecycle.apply(CONFIG)
    expect(lifecycle.status).toEqual({ state: 'failed', address: null, error: 'cannot bind UDP 0.0.0.0:7946', ring: null })
    await lifecycle.apply(CONFIG, { force: true })
    expect(states()).toEqual(['starting', 'failed', 'starting', 'running'])
  })

  it('skips a start that a close overtook before it began', async () => {
    const { observers, lifecycle } = setup()
    const starting = lifecycle.apply(CONFIG)
    await lifecycle.close()
    await starting
    expect(observers.log).toEqual([])
  })

  it('applies changes one at a time: never two observers with one id', async () => {
    const { observers, lifecycle } = setup()
    const release = observers.hold()
    const first = lifecycle.apply(CONFIG)
    const second = lifecycle.apply({ ...CONFIG, seeds: ['10.0.0.3:7946'] })
    const third = lifecycle.apply({ ...CONFIG, seeds: ['10.0.0.4:7946'] })
    release()
    await Promise.all([first, second, third])
    expect(observers.log).toEqual([
      'start#1 desk-1 seeds=10.0.0.2:7946 inc=-', 'stop#1 leave=500',
      'start#2 desk-1 seeds=10.0.0.3:7946 inc=101', 'stop#2 leave=500',
      'start#3 desk-1 seeds=10.0.0.4:7946 inc=102',
    ])
    expect(observers.running.size).toBe(1)
  })

  it('closes with a graceful leave, even while a start is in flight, and ignores later changes', async () => {
    const { observers, lifecycle } = setup()
    const release = observers.hold()
    const starting = lifecycle.apply(CONFIG)
    await waitFor(() => observers.log.length === 1, 'the start to be in flight')
    const closing = lifecycle.close()
    release()
    await Promise.all([starting, closing])
    expect(observers.log).toEqual(['start#1 desk-1 seeds=10.0.0.2:7946 inc=-', 'stop#1 leave=500'])
    await lifecycle.apply(CONFIG)
    expect(observers.log).toHaveLength(2)
    expect(lifecycle.status.state).toBe('off')
  })
})
