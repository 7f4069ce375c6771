/**
 * The frame around the tabs: tab bar (the location hash names the tab, so a reload or a link
 * keeps it), the connection status (live over the WebSocket, polling, or unreachable, with the
 * last error of each feed) and the settings dialog (hub URL and token).
 */
import type { ConnectionSettings } from './client/connection-settings.js'
import type { SocketState } from './client/admin-socket.js'
import { h, replaceChildren } from './widgets/dom.js'

export type TabName = 'ring' | 'traffic' | 'topics' | 'devices'
export const TAB_NAMES: readonly TabName[] = ['ring', 'traffic', 'topics', 'devices']

export interface Tab {
  element: HTMLElement
  shown(): void
  /** The tab left the screen (another tab, or the window hidden): live views leave their joins. */
  hidden?(): void
}

export class AppShell {
  readonly #nav = h('nav', { class: 'tabs', role: 'tablist' })
  readonly #status = h('div', { class: 'status', role: 'status' })
  readonly #main = h('main')
  readonly #errors = new Map<string, string>()
  #current: TabName = 'ring'
  #socketState: SocketState = 'closed'
  #hubName = ''

  constructor(
    root: HTMLElement,
    private readonly tabs: Record<TabName, Tab>,
    private readonly settings: () => ConnectionSettings,
    private readonly onSettings: (s: ConnectionSettings) => void,
  ) {
    const settingsButton = h('button', { type: 'button', class: 'settings-button', onclick: () => this.#openSettings() }, 'Settings')
    root.replaceChildren(h('header', {}, h('h1', {}, 'Ringhub'), this.#nav, this.#status, settingsButton), this.#main)
    for (const name of TAB_NAMES) {
      const tab = tabs[name]
      tab.element.dataset.tab = name
      this.#main.append(tab.element)
    }
    addEventListener('hashchange', () => this.#showFromHash())
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.tabs[this.#current].hidden?.()
      else this.tabs[this.#current].shown()
    })
    this.#showFromHash()
  }

  get current(): TabName { return this.#current }

  /** Whether `name` is on screen (hidden tabs and background windows skip their redraws). */
  isVisible(name: TabName): boolean { return this.#current === name && document.visibilityState !== 'hidden' }

  show(name: TabName): void {
    if (location.hash !== `#${name}`) location.hash = name
    else this.#showFromHash()
  }

  setSocketState(state: SocketState): void { this.#socketState = state; this.#renderStatus() }
  setHub(name: string): void { this.#hubName = name; this.#renderStatus() }

  /** Records (or with `undefined` clears) a feed's error; shown in the status line's tooltip. */
  setError(feed: string, message: string | undefined): void {
    if (message === undefined) this.#errors.delete(feed)
    else this.#errors.set(feed, message)
    this.#renderStatus()
  }

  #showFromHash(): void {
    const name = location.hash.slice(1) as TabName
    const previous = this.#current
    this.#current = TAB_NAMES.includes(name) ? name : 'ring'
    if (previous !== this.#current) this.tabs[previous].hidden?.()
    for (const n of TAB_NAMES) this.tabs[n].element.hidden = n !== this.#current
    replaceChildren(this.#nav, ...TAB_NAMES.map((n) => h('a', {
      href: `#${n}`, role: 'tab', class: n === this.#current ? 'active' : '', 'aria-selected': n === this.#current ? 'true' : 'false', 'data-tab-link': n,
    }, n[0]?.toUpperCase() + n.slice(1))))
    this.tabs[this.#current].shown()
  }

  #renderStatus(): void {
    const live = this.#socketState === 'open'
    const errors = [...this.#errors].map(([feed, msg]) => `${feed}: ${msg}`)
    this.#status.dataset.socket = this.#socketState
    this.#status.title = errors.join('\n')
    replaceChildren(this.#status,
      h('span', { class: `dot ${live ? 'online' : this.#socketState === 'connecting' ? 'pending' : 'offline'}` }),
      `${this.#hubName ? `via ${this.#hubName} · ` : ''}${live ? 'live' : 'polling over HTTP'}`,
      errors.length > 0 ? h('span', { class: 'warn' }, ` · ${errors.length} feed${errors.length === 1 ? '' : 's'} unavailable`) : null)
  }

  #openSettings(): void {
    const current = this.settings()
    const hubUrl = h('input', { type: 'url', name: 'hubUrl', value: current.hubUrl, 'aria-label': 'hub admin URL' })
    const token = h('input', { type: 'password', name: 'token', value: current.token, autocomplete: 'off', 'aria-label': 'admin token' })
    const dialog = h('dialog', { class: 'settings' }, h('form', { method: 'dialog' },
      h('h2', {}, 'Connection'),
      h('label', {}, 'Hub admin URL ', hubUrl),
      h('label', {}, 'Admin token ', token),
      h('p', { class: 'muted' }, 'Any hub answers for the whole ring. The token is kept in this browser\'s local storage.'),
      h('div', { class: 'row' }, h('button', { value: 'cancel' }, 'Cancel'), h('button', { value: 'save', class: 'primary' }, 'Save'))))
    dialog.addEventListener('close', () => {
      if (dialog.returnValue === 'save') this.onSettings({ hubUrl: hubUrl.value.trim() || location.origin, token: token.value })
      dialog.remove()
    })
    document.body.append(dialog)
    dialog.showModal()
  }
}
