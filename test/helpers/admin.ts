import type { RingLinksResponse } from '../../hub/src/contract/admin-api.js'
import type { RingView } from '../../hub/src/contract/ring-view.js'

/** `GET /api/ring` from the admin port at `host:port` (off loopback the hub wants its admin token). */
export async function ringOf(admin: string, token?: string): Promise<RingView> {
  const res = await fetch(`http://${admin}/api/ring`, { signal: AbortSignal.timeout(2_000), headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`GET /api/ring on ${admin}: ${res.status} ${await res.text()}`)
  return await res.json() as RingView
}

/** `GET /api/v1/ring/links` from the admin port at `host:port`: every `from>to` link reported down. */
export async function linksDownOf(admin: string, token?: string): Promise<string[]> {
  const res = await fetch(`http://${admin}/api/v1/ring/links`, { signal: AbortSignal.timeout(4_000), headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`GET /api/v1/ring/links on ${admin}: ${res.status} ${await res.text()}`)
  return ((await res.json()) as RingLinksResponse).links.filter((l) => !l.up).map((l) => `${l.from}>${l.to}`)
}

/** An unlabelled metric's value (a gauge such as ringhub_wills_held), from the admin port's /metrics. */
export async function gauge(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`, { signal: AbortSignal.timeout(2_000) })).text()
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text)
  if (!m) throw new Error(`no metric ${name} on ${admin}`)
  return Number(m[1])
}

/** A counter's total over the label sets matching `labelRe`, from the admin port's /metrics. */
export async function counter(admin: string, name: string, labelRe = '[^}]*'): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`, { signal: AbortSignal.timeout(2_000) })).text()
  return [...text.matchAll(new RegExp(`^${name}\\{${labelRe}\\} (\\d+)`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0)
}

/** The state `view` holds about member `id` (undefined: unknown). */
export function stateIn(view: RingView, id: string): string | undefined {
  return view.members.find((m) => m.id === id)?.state
}

/** True when every view holds exactly `alive` alive and all views have one checksum. */
export function oneRing(views: readonly RingView[], alive: readonly string[]): boolean {
  return views.every((v) => alive.every((a) => stateIn(v, a) === 'alive') && v.members.filter((m) => m.state === 'alive').length === alive.length)
    && new Set(views.map((v) => v.checksum)).size === 1
}
