import { runHub } from './cli/hub-command.js'
import { runUsers } from './cli/users-command.js'
import { runDemo } from './cli/demo-command.js'
import { runRing } from './cli/ring-command.js'
import { RINGHUB_VERSION } from './version.js'

const USAGE = `ringhub ${RINGHUB_VERSION}: MQTT device hub for edge machines

Usage:
  ringhub hub [options]                 run a hub (ringhub hub --help lists the options)
  ringhub users add NAME --role device|operator [--password P | --password -] [--data DIR | --id ID]
  ringhub users remove NAME [--data DIR | --id ID]
  ringhub users list [--data DIR | --id ID]
  ringhub certs [--out DIR] [--hub ID] [--client NAME]   a development CA and TLS certificates (ringhub certs --help)
  ringhub ring status --admin HOST:PORT  the ring as that hub sees it
  ringhub ring owner TOPIC --admin HOST:PORT
  ringhub agent --port PATH --device ID --hubs URL,URL   serial device agent (ringhub agent --help)
  ringhub sim serial --port PATH        simulated firmware on a serial port (ringhub sim serial --help)
  ringhub sim fleet --devices N --hubs URL,...   simulated MQTT fleet (ringhub sim fleet --help)
  ringhub demo [--devices N] [--ports ephemeral]   npm start: 3 hub processes + a simulated fleet (ringhub demo --help)
  ringhub bench                         benchmarks (same as npm run bench)
  ringhub --version
`

/** The CLI. Returns the process exit code; long-running commands resolve when they stop. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'hub': return runHub(rest)
    case 'users': return runUsers(rest)
    case 'demo': return runDemo(rest)
    case 'ring': return runRing(rest)
    case 'certs': {
      const { runCerts } = await import('./cli/certs-command.js')
      return runCerts(rest)
    }
    case 'bench': {
      const { runBench } = await import('./cli/bench-command.js')
      return runBench(rest)
    }
    case '--version': case '-v':
      process.stdout.write(RINGHUB_VERSION + '\n')
      return 0
    case undefined: case '--help': case '-h': case 'help':
      process.stdout.write(USAGE)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 2
  }
}
