import { createInterface } from 'node:readline'
import { SerialPort } from 'serialport'
import { systemClock } from '../../../device-agent/dist/base/system-clock.js'
import { randomSeed, seededRng } from '../../../device-agent/dist/base/rng.js'
import { ConfigError } from '../../../device-agent/dist/base/errors.js'
import { NAME_PATTERN } from '../../../device-agent/dist/protocol/frames.js'
import { flagHelp, parseFlags, type FlagSpec } from '../flags.js'
import { SerialSim } from './serial-sim.js'
import { SENSOR_NAMES, type SensorName } from './sensors.js'
import { parseFault } from './faults.js'

const SPECS: FlagSpec[] = [
  { flag: '--port', kind: 'string', doc: 'serial port (one end of a socat pty pair)' },
  { flag: '--baud', kind: 'int', doc: 'baud rate', default: '115200' },
  { flag: '--device', kind: 'string', doc: 'device id sent in every frame', default: 'sim1' },
  { flag: '--interval-ms', kind: 'int', doc: 'telemetry period, ms (0 = only bursts)', default: '1000' },
  { flag: '--count', kind: 'int', doc: 'stop the periodic telemetry after N frames', default: 'never' },
  { flag: '--sensors', kind: 'string', doc: `readings per frame, from ${SENSOR_NAMES.join(',')}`, default: 'all' },
  { flag: '--dialect', kind: 'string', doc: 'json | kv (key=value telemetry)', default: 'json' },
  { flag: '--silent', kind: 'bool', doc: 'never answer commands' },
  { flag: '--seed', kind: 'int', doc: 'seed for readings and noise', default: 'random, printed' },
]

export const SERIAL_USAGE = flagHelp(`Usage: ringhub sim serial --port PATH [options]

Simulated firmware on a serial port. Control lines on stdin inject faults:
  noise N | garbage N | partial | burst N | mute MS | silence MS | disconnect MS | stats | quit`, SPECS)

/** `ringhub sim serial`: runs until stdin says quit, or SIGTERM/SIGINT. */
export async function runSerialSim(argv: readonly string[]): Promise<number> {
  const f = parseFlags(argv, SPECS, 'sim serial')
  const path = f.get('port')
  if (typeof path !== 'string') throw new ConfigError('--port', 'required')
  const device = String(f.get('device') ?? 'sim1')
  if (!NAME_PATTERN.test(device)) throw new ConfigError('--device', 'must match [A-Za-z0-9_.-]{1,64}')
  const sensors = typeof f.get('sensors') === 'string' ? String(f.get('sensors')).split(',') : [...SENSOR_NAMES]
  for (const s of sensors) if (!(SENSOR_NAMES as readonly string[]).includes(s)) throw new ConfigError('--sensors', `unknown sensor ${s}`)
  const dialect = String(f.get('dialect') ?? 'json')
  if (dialect !== 'json' && dialect !== 'kv') throw new ConfigError('--dialect', 'json or kv')
  const seed = (f.get('seed') as number | undefined) ?? randomSeed()
  const count = f.get('count') as number | undefined
  const sim = await SerialSim.start({
    path, baudRate: (f.get('baud') as number | undefined) ?? 115200, device, clock: systemClock, rng: seededRng(seed),
    intervalMs: (f.get('interval-ms') as number | undefined) ?? 1000, sensors: sensors as SensorName[], dialect,
    ...(count !== undefined ? { count } : {}), silent: f.get('silent') === true,
    opener: (p, baudRate) => new SerialPort({ path: p, baudRate, autoOpen: false }),
  })
  const print = (msg: string, extra: Record<string, unknown> = {}): void => { process.stdout.write(JSON.stringify({ msg, device, ...extra }) + '\n') }
  print('sim serial started', { port: path, seed })
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGTERM', done)
      process.off('SIGINT', done)
      rl.close()
      resolve()
    }
    const rl = createInterface({ input: process.stdin })
    rl.on('line', (line) => {
      const [kind = '', amount] = line.trim().split(/\s+/)
      if (kind === '') return
      if (kind === 'quit') return done()
      if (kind === 'stats') return print('sim serial stats', { stats: sim.firmware.stats })
      const fault = parseFault(kind, amount === undefined ? undefined : Number(amount))
      if (!fault) return print('unknown control line', { line })
      sim.firmware.inject(fault)
      print('fault injected', { fault })
    })
    process.on('SIGTERM', done)
    process.on('SIGINT', done)
  })
  await sim.stop()
  print('sim serial stopped', { stats: sim.firmware.stats })
  return 0
}
