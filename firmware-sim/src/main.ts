import { ConfigError } from '../../device-agent/dist/base/errors.js'
import { runSerialSim, SERIAL_USAGE } from './serial/serial-command.js'
import { runFleetSim, FLEET_USAGE } from './fleet/fleet-command.js'

const USAGE = `Usage:
  ringhub sim serial --port PATH [options]        simulated firmware on a serial port
  ringhub sim fleet --devices N --hubs URL,...    N simulated MQTT devices
  ringhub sim serial|fleet --help                 options
  ringhub sim --devices N --hubs URL,...          the same as sim fleet (DESIGN.md §7)
`

/** `ringhub sim …` (docs/simulator.md). */
export async function runSim(argv: readonly string[]): Promise<number> {
  // `ringhub sim --devices N …` (DESIGN.md §7) means the fleet.
  const [sub, ...rest] = argv[0]?.startsWith('--') && argv[0] !== '--help' && argv[0] !== '-h' ? ['fleet', ...argv] : argv
  const help = rest.includes('--help') || rest.includes('-h')
  try {
    switch (sub) {
      case 'serial':
        if (help) { process.stdout.write(SERIAL_USAGE); return 0 }
        return await runSerialSim(rest)
      case 'fleet':
        if (help) { process.stdout.write(FLEET_USAGE); return 0 }
        return await runFleetSim(rest)
      case undefined: case '--help': case '-h':
        process.stdout.write(USAGE)
        return sub === undefined ? 2 : 0
      default:
        process.stderr.write(`unknown sim command ${JSON.stringify(sub)}\n\n${USAGE}`)
        return 2
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ringhub sim ${sub}: ${err.message}\n`)
      return 2
    }
    throw err
  }
}
