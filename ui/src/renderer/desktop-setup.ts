/**
 * Inside the desktop app (hub/src/contract/desktop-api.ts): `window.ringhub` is the preload's
 * API, and when no hub is configured or it did not answer, the app shows this renderer's bundled
 * copy with `?reason=no-hub|unreachable`. Then there is no hub to talk to, and the setup panel
 * asks for one (saved through the app, which reloads the window from that hub), offers to start
 * a local hub, and shows the embedded observer's view of the ring meanwhile.
 */
import type { DesktopApi, DesktopLocalCopyReason, LocalHubStatus, ObserverStatus } from '../../../hub/src/contract/desktop-api.js'
import type { RingView } from '../../../hub/src/contract/ring-view.js'
import { h, replaceChildren } from './widgets/dom.js'

/** The desktop app's API, or undefined in a plain browser. */
export function desktopApi(): DesktopApi | undefined {
  const api = (globalThis as { ringhub?: DesktopApi }).ringhub
  return api?.apiVersion === 1 ? api : undefined
}

/** Why the desktop app shows its bundled copy, or undefined when a hub serves this page. */
export function localCopyReason(search: string): DesktopLocalCopyReason | undefined {
  const reason = new URLSearchParams(search).get('reason')
  return reason === 'no-hub' || reason === 'unreachable' ? reason : undefined
}

export class SetupPanel {
  readonly element: HTMLElement
  readonly #status = h('div', { class: 'setup-status', role: 'status' })
  readonly #observer = h('p', { class: 'muted setup-observer' })
  readonly #localHub = h('div', { class: 'setup-local-hub' })

  /** `onRing`: the observer's ring views, for the Ring tab behind the panel. */
  constructor(private readonly api: DesktopApi, reason: DesktopLocalCopyReason, private readonly onRing: (ring: RingView) => void) {
    const adminUrl = h('input', { type: 'url', name: 'adminUrl', placeholder: 'http://10.0.0.2:8080', class: 'setup-url', 'aria-label': 'hub admin URL', required: true })
    const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', class: 'setup-token', 'aria-label': 'admin token' })
    const save = async (): Promise<void> => {
      replaceChildren(this.#status, 'saving…')
      try {
        // An empty token field keeps the stored token (the app never sends it back to show).
        await api.saveSettings({ adminUrl: adminUrl.value.trim(), ...(token.value ? { token: token.value } : {}) })
        // The app reloads the window when the hub changed; same hub: ask it to try again.
        await api.reconnect()
        replaceChildren(this.#status, 'saved; connecting…')
      } catch (err) {
        replaceChildren(this.#status, h('span', { class: 'error' }, (err as Error).message))
      }
    }
    this.element = h('div', { class: 'setup-overlay' }, h('form', { class: 'panel setup', onsubmit: (ev) => { ev.preventDefault(); void save() } },
      h('h2', {}, reason === 'no-hub' ? 'Connect to a hub' : 'The hub did not answer'),
      h('p', {}, reason === 'no-hub'
        ? 'Enter the admin URL of any hub of the ring (its admin port, default 8080); it answers for the whole ring.'
        : 'The configured hub is not reachable. Check that it runs, or enter another hub of the ring.'),
      h('label', {}, 'Hub admin URL ', adminUrl),
      h('label', {}, 'Admin token ', token),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Save and connect'),
        h('button', { type: 'button', onclick: () => { void api.reconnect() } }, 'Retry'),
        // To look at the observer's ring behind; Settings (top right) also saves through the app.
        h('button', { type: 'button', class: 'setup-later', onclick: () => { this.element.hidden = true } }, 'Later')),
      this.#status, this.#localHub, this.#observer))
    void api.getSettings().then((s) => {
      if (s.adminUrl && !adminUrl.value) adminUrl.value = s.adminUrl
      if (s.tokenSet) token.placeholder = '(stored; leave empty to keep)'
    }).catch(() => {})
    void api.getObserverStatus().then((s) => this.#showObserver(s)).catch(() => {})
    api.onObserverStatus((s) => this.#showObserver(s))
    void api.getLocalHubStatus().then((s) => this.#showLocalHub(s)).catch(() => {})
    api.onLocalHubStatus((s) => this.#showLocalHub(s))
  }

  #showObserver(s: ObserverStatus): void {
    const alive = s.ring?.members.filter((m) => m.state === 'alive' && m.meta.role !== 'observer').length ?? 0
    this.#observer.textContent = s.state === 'running'
      ? `The app's observer member sees the ring first-hand: ${alive} hub${alive === 1 ? '' : 's'} alive (Ring tab).`
      : s.state === 'failed' ? `Observer: ${s.error ?? 'failed'}` : ''
    if (s.ring) this.onRing(s.ring)
  }

  #showLocalHub(s: LocalHubStatus): void {
    const use = s.state === 'running' && s.adminUrl
      ? h('button', { type: 'button', onclick: () => { void this.api.saveSettings({ adminUrl: s.adminUrl }).then(() => this.api.reconnect()) } }, `Use it (${s.adminUrl})`)
      : null
    const start = s.state === 'stopped' || s.state === 'failed'
      ? h('button', { type: 'button', onclick: () => { void this.api.startLocalHub().then((x) => this.#showLocalHub(x)) } }, 'Start a hub on this computer')
      : null
    replaceChildren(this.#localHub, h('p', { class: 'muted' }, `Local hub: ${s.state}${s.error ? ` (${s.error})` : ''}`), start, use)
  }
}
