import type { MenuItemConstructorOptions } from 'electron'
import { describe, expect, it } from 'vitest'
import type { LocalHubStatus, ObserverStatus } from '../../hub/src/contract/desktop-api.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'
import { appMenu, trayMenu, trayTooltip, type MenuActions, type MenuState } from '../../ui/src/main/menu-model.js'

const RING: RingView = {
  apiVersion: 1, self: 'desk-1', checksum: 'abcd0123',
  members: [
    { id: 'desk-1', state: 'alive', incarnation: 5, addresses: { gossip: 'a:1' }, meta: { role: 'observer', version: '0.1.0' }, share: 0 },
    { id: 'h1', state: 'alive', incarnation: 1, addresses: { gossip: 'b:1' }, meta: { role: 'hub', version: '0.1.0' }, share: 0.5 },
    { id: 'h2', state: 'suspect', incarnation: 1, addresses: { gossip: 'c:1' }, meta: { role: 'hub', version: '0.1.0' }, share: 0.5 },
    { id: 'h3', state: 'dead', incarnation: 1, addresses: { gossip: 'd:1' }, meta: { role: 'hub', version: '0.1.0' }, share: 0 },
  ],
}
const OFF: ObserverStatus = { state: 'off', address: null, error: null, ring: null }
const RUNNING: ObserverStatus = { state: 'running', address: 'a:1', error: null, ring: RING }
const STOPPED: LocalHubStatus = { state: 'stopped', pid: null, adminUrl: null, error: null }

function recorder(): MenuActions & { clicked: string[] } {
  const clicked: string[] = []
  return {
    clicked,
    openWindow: () => clicked.push('openWindow'),
    reconnect: () => clicked.push('reconnect'),
    startLocalHub: () => clicked.push('startLocalHub'),
    stopLocalHub: () => clicked.push('stopLocalHub'),
    quit: () => clicked.push('quit'),
  }
}

/** Every item with an id, depth first, submenus included. */
function byId(items: MenuItemConstructorOptions[]): Map<string, MenuItemConstructorOptions> {
  const out = new Map<string, MenuItemConstructorOptions>()
  const walk = (list: MenuItemConstructorOptions[]): void => {
    for (const item of list) {
      if (item.id) out.set(item.id, item)
      if (Array.isArray(item.submenu)) walk(item.submenu)
    }
  }
  walk(items)
  return out
}

function click(item: MenuItemConstructorOptions | undefined): void {
  // The handlers ignore Electron's arguments; the cast only satisfies the callback's signature.
  ;(item?.click as (() => void) | undefined)?.()
}

describe('tray menu', () => {
  it('shows what the observer sees and wires every action', () => {
    const actions = recorder()
    const items = byId(trayMenu({ hubConfigured: true, observer: RUNNING, localHub: STOPPED }, actions))
    expect(items.get('observer-status')).toMatchObject({ label: 'Observer: 1 of 3 hubs alive', enabled: false })
    for (const id of ['open', 'reconnect', 'start-local-hub', 'quit']) click(items.get(id))
    expect(actions.clicked).toEqual(['openWindow', 'reconnect', 'startLocalHub', 'quit'])
  })

  it.each<[string, MenuState, { reconnect: boolean, start: boolean, stop: boolean, status: string }]>([
    ['nothing configured', { hubConfigured: false, observer: OFF, localHub: STOPPED }, { reconnect: false, start: true, stop: false, status: 'Observer: off (no seeds configured)' }],
    ['a hub, no observer', { hubConfigured: true, observer: OFF, localHub: STOPPED }, { reconnect: true, start: true, stop: false, status: 'Observer: off (no seeds configured)' }],
    ['observer joining', { hubConfigured: false, observer: { ...OFF, state: 'starting' }, localHub: STOPPED }, { reconnect: true, start: true, stop: false, status: 'Observer: joining…' }],
    ['observer failed', { hubConfigured: false, observer: { ...OFF, state: 'failed', error: 'cannot bind' }, localHub: STOPPED }, { reconnect: true, start: true, stop: false, status: 'Observer: failed (cannot bind)' }],
    ['local hub starting', { hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'starting' } }, { reconnect: true, start: false, stop: true, status: 'Observer: 1 of 3 hubs alive' }],
    ['local hub running', { hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'running', pid: 9 } }, { reconnect: true, start: false, stop: true, status: 'Observer: 1 of 3 hubs alive' }],
    ['local hub stopping', { hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'stopping' } }, { reconnect: true, start: false, stop: false, status: 'Observer: 1 of 3 hubs alive' }],
    ['local hub failed', { hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'failed', error: 'x' } }, { reconnect: true, start: true, stop: false, status: 'Observer: 1 of 3 hubs alive' }],
  ])('with %s enables the right items', (_name, state, expected) => {
    const items = byId(trayMenu(state, recorder()))
    expect({
      reconnect: items.get('reconnect')?.enabled, start: items.get('start-local-hub')?.enabled,
      stop: items.get('stop-local-hub')?.enabled, status: items.get('observer-status')?.label,
    }).toEqual(expected)
  })

  it('says so in the tooltip', () => {
    expect(trayTooltip({ hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'running' } })).toBe('Ringhub — observer 1 of 3 hubs alive · local hub running')
    expect(trayTooltip({ hubConfigured: false, observer: OFF, localHub: STOPPED })).toBe('Ringhub — observer off (no seeds configured)')
  })
})

describe('application menu', () => {
  it.each(['linux', 'win32', 'darwin'] as const)('on %s offers open, reconnect, local hub and a graceful quit', (platform) => {
    const actions = recorder()
    const menu = appMenu({ hubConfigured: true, observer: RUNNING, localHub: { ...STOPPED, state: 'running' } }, actions, platform)
    const items = byId(menu)
    for (const id of ['open', 'reconnect', 'stop-local-hub', 'quit']) click(items.get(id))
    expect(actions.clicked).toEqual(['openWindow', 'reconnect', 'stopLocalHub', 'quit'])
    expect(items.get('quit')?.accelerator).toBe('CmdOrCtrl+Q')
    expect(menu[0]?.label).toBe(platform === 'darwin' ? 'Ringhub' : 'File')
  })
})
