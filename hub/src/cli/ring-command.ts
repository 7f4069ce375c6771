import type { RingView } from '../contract/ring-view.js'

const USAGE = `Usage:
  ringhub ring status --admin HOST:PORT        the ring as this hub sees it
  ringhub ring owner TOPIC --admin HOST:PORT   the hub that owns TOPIC's key, and its replicas
  ringhub ring forget ID --admin HOST:PORT     count a crashed hub as left (only one held dead)
  add --json for the raw JSON of the admin API; --token T (or RINGHUB_ADMIN_TOKEN) for a hub
  started with an admin token
`

/** `ringhub ring status|owner|forget`: a hub's admin API, for people. */
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
        process.stdout.write(json ? JSON.stringify(view, null, 2) + '\n' : formatStatus(view))
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
