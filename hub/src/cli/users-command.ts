import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { silentLogger } from '../base/log.js'
import { systemClock } from '../base/system-clock.js'
import { RinghubError } from '../base/errors.js'
import { loadConfig } from '../config/load.js'
import { HubDb } from '../store/db.js'
import { UserStore } from '../store/user-store.js'
import { DB_FILE } from '../hub.js'

const USAGE = `Usage:
  ringhub users add NAME --role device|operator [--password P | --password -]
  ringhub users remove NAME
  ringhub users list
Each takes --data DIR, --id ID or --config FILE to find the hub's store (as ringhub hub does).
--password - reads the password from the first line of standard input.
`

/** `ringhub users add|remove|list`: device and operator credentials in the hub's SQLite store. */
export async function runUsers(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  try {
    const { positional, flags } = splitArgs(rest)
    const storeArgs = ['--data', '--id', '--config'].flatMap((f) => (flags.has(f) ? [f, flags.get(f) as string] : []))
    const config = loadConfig({ argv: storeArgs, env: process.env })
    mkdirSync(config.data, { recursive: true })
    const db = HubDb.open({ path: join(config.data, DB_FILE), clock: systemClock, log: silentLogger(), groupCommitMs: 0, sync: config.storeSync })
    try {
      const users = new UserStore(db)
      switch (action) {
        case 'add': {
          const name = positional[0]
          const role = flags.get('--role')
          if (!name || (role !== 'device' && role !== 'operator')) return usage('add needs NAME and --role device|operator')
          let password = flags.get('--password')
          if (password === '-') password = await readFirstLine()
          if (!password) return usage('add needs --password P or --password - (stdin)')
          await users.add(name, password, role)
          process.stdout.write(`user ${name} (${role}) saved in ${config.data}\n`)
          return 0
        }
        case 'remove': {
          const name = positional[0]
          if (!name) return usage('remove needs NAME')
          const removed = await users.remove(name)
          process.stdout.write(removed ? `user ${name} removed\n` : `no user ${name}\n`)
          return removed ? 0 : 1
        }
        case 'list': {
          for (const u of users.list()) process.stdout.write(`${u.username}\t${u.role}\t${new Date(u.createdMs).toISOString()}\n`)
          return 0
        }
        default:
          return usage(action === undefined ? 'missing action' : `unknown action ${action}`)
      }
    } finally {
      db.close()
    }
  } catch (err) {
    if (err instanceof RinghubError) {
      process.stderr.write(`ringhub users: ${err.message}\n`)
      return 2
    }
    throw err
  }
}

function usage(why: string): number {
  process.stderr.write(`ringhub users: ${why}\n\n${USAGE}`)
  return 2
}

function splitArgs(argv: readonly string[]): { positional: string[], flags: Map<string, string> } {
  const positional: string[] = []
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('--')) { positional.push(arg); continue }
    const eq = arg.indexOf('=')
    if (eq > 0) flags.set(arg.slice(0, eq), arg.slice(eq + 1))
    else flags.set(arg, argv[++i] ?? '')
  }
  return { positional, flags }
}

async function readFirstLine(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0] ?? ''
}
