import type { RingLinksResponse } from '../contract/admin-api.js'
import type { RingView } from '../contract/ring-view.js'

const USAGE = `Usage:
  ringhub ring status --admin HOST:PORT        the ring as this hub sees it, and the router links down
  ringhub ring links --admin HOST:PORT         every hub's router links, up or down, and for how long
  ringhub ring owner TOPIC --admin HOST:PORT   the hub that owns TOPIC's key, and its replicas
  ringhub ring forget ID --admin HOST:PORT     count a crashed hub as left (only one held dead)
  add --json for the raw JSON of the admin API; --token T (or RINGHUB_ADMIN_TOKEN) for a hub
  started with an admin token
`

/** `ringhub ring status|links|owner|forget`: a hub's admin API, for people. */
export async function runRing(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  const admin = flag(rest, '--admin') ?? process.env.RINGHUB_ADMIN_ADDR ?? '127.0.0.1:8080'
  const json = rest.includes('--json')
  const base = `http://${admin}`
  const token = flag(rest, '--token') ?? process.env.RINGHUB_ADMIN_TOKEN
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const getJson = async <T>(url: string): Promise<T> => {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    return await res.json() as T
  }
  try {
    switch (action) {
      case 'status': {
        const view = await getJson<RingView>(`${base}/api/ring`)
        if (json) {
          process.stdout.write(JSON.stringify(view, null, 2) + '\n')
          return 0
        }
        // A hub from before the links route answers 404: the status is printed without them.
        const links = await getJson<RingLinksResponse>(`${base}/api/v1/ring/links`).catch((err: unknown) => (err as Error).message)
        process.stdout.write(formatStatus(view) + (typeof links === 'string' ? `router links: unknown (${links})\n` : formatLinks(links, false)))
        return 0
      }
      case 'links': {
        const links = await getJson<RingLinksResponse>(`${base}/api/v1/ring/links`)
        process.stdout.write(json ? JSON.stringify(links, null, 2) + '\n' : formatLinks(links, true))
        return 0
      }
      case 'owner': {
        const topic = operand(rest)
        if (!topic) return usage('owner needs a TOPIC')
        const answer = await getJson<{ topic: string, key: string | null, owner?: string, replicas: string[] }>(`${base}/api/ring/owner?topic=${encodeURIComponent(topic)}`)
        process.stdout.write(json ? JSON.stringify(answer, null, 2) + '\n'
          : answer.key === null ? `${topic}: local to every hub ($ topics are not routed)\n`
          : `${topic}\n  key       ${answer.key}\n  owner     ${answer.owner ?? '(no hub owns keys)'}\n  replicas  ${answer.replicas.join(', ') || '-'}\n`)
        return 0
      }
      case 'forget': {
        const id = operand(rest)
        if (!id) return usage('forget needs the ID of a hub')
        const res = await fetch(`${base}/api/ring/members/${encodeURIComponent(id)}/forget`, { method: 'POST', headers, signal: AbortSignal.timeout(5_000) })
        const body = await res.json() as { error?: string, was?: string }
        if (json) process.stdout.write(JSON.stringify(body, null, 2) + '\n')
        if (!res.ok) {
          process.stderr.write(`ringhub ring forget: ${body.error ?? `HTTP ${res.status}`}\n`)
          return 1
        }
        if (!json) process.stdout.write(body.was === 'left' ? `${id} had left the ring already\n` : `${id} forgotten: it counts as left in the ring (it joins again when it restarts)\n`)
        return 0
      }
      default:
        return usage(action === undefined ? 'missing action' : `unknown action ${action}`)
    }
  } catch (err) {
    process.stderr.write(`ringhub ring: cannot read ${base}: ${(err as Error).message}\n`)
    return 1
  }
}

export function formatStatus(view: RingView): string {
  const rows = view.members.map((m) => [
    m.id + (m.id === view.self ? ' *' : ''), m.state, String(m.incarnation), m.meta.role ?? '', `${(m.share * 100).toFixed(1)}%`,
    m.addresses.gossip, m.addresses.mqtt ?? '-', m.addresses.admin ?? '-',
  ])
  const header = ['id', 'state', 'inc', 'role', 'share', 'gossip', 'mqtt', 'admin']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd()
  return `ring ${view.checksum} as seen by ${view.self} (* = this hub)\n${line(header)}\n${rows.map(line).join('\n')}\n`
}

/**
 * The router links: a summary line ("all 6 up" or how many are down), then each link down
 * (longest first), or with `all` every link, "a → c  down  12 s".
 */
export function formatLinks(answer: RingLinksResponse, all: boolean): string {
  const down = answer.links.filter((l) => !l.up).sort((a, b) => b.forMs - a.forMs)
  const hubs = `${answer.hubs.length} hub${answer.hubs.length === 1 ? '' : 's'} reporting: ${answer.hubs.join(', ')}`
  const head = down.length === 0
    ? `router links: all ${answer.links.length} up (${hubs})\n`
    : `router links: ${down.length} of ${answer.links.length} down (${hubs}); keys owned across them stall\n`
  const shown = all ? answer.links : down
  return head + shown.map((l) => `  ${l.from} → ${l.to}  ${l.up ? 'up  ' : 'down'}  ${duration(l.forMs)}\n`).join('')
}

/** "4 s", "2 min 5 s", "3 h 12 min". */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** The first argument that is neither a flag nor a flag's value. */
function operand(argv: readonly string[]): string | undefined {
  return argv.find((a, i) => !a.startsWith('--') && !takesValue(argv[i - 1]))
}

function takesValue(flagName: string | undefined): boolean {
  return flagName === '--admin' || flagName === '--token'
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name)
  if (i >= 0) return argv[i + 1]
  return argv.find((a) => a.startsWith(name + '='))?.slice(name.length + 1)
}

function usage(why: string): number {
  process.stderr.write(`ringhub ring: ${why}\n\n${USAGE}`)
  return 2
}
