import { ConfigError } from '../base/errors.js'

/** What `ringhub demo` runs (docs/demo.md). Every field documents its default. */
export interface DemoOptions {
  /** Hubs in the ring, ids a, b, c, … (default 3). */
  hubs: number
  /** Simulated devices spread over the hubs (default 200). */
  devices: number
  /**
   * `default`: hub i tries MQTT `mqtt + i`, admin `admin + i`, gossip `7946 + 2i`, inter-hub
   * `7947 + 2i` and takes a free ephemeral port for each one that is taken. `ephemeral`: every
   * port ephemeral (tests, or a machine where the fixed ports belong to something else).
   */
  ports: 'default' | 'ephemeral'
  /** First hub's MQTT port in `default` mode (default 1883). */
  mqtt: number
  /** First hub's admin port (UI, API, MQTT over WebSocket) in `default` mode (default 8080). */
  admin: number
  /** Parent of every hub's data directory `<data>/<id>` and of the logs (default ./data/demo). */
  data: string
  /** Delete `<data>` before starting (default false: the hubs restart from what it holds). */
  fresh: boolean
  /** Start the Electron app too where its binary is installed (default true; `--no-desktop`). */
  desktop: boolean
  /** How long the hubs have to start and agree on one ring, ms (default 30 000). */
  ringDeadlineMs: number
  /** How long a child has after SIGTERM before SIGKILL, ms (default 10 000). */
  stopDeadlineMs: number
  help: boolean
}

export const DEMO_USAGE = `Usage: ringhub demo [options]     (what npm start runs)

Starts a ring of hubs as separate processes on this machine (anonymous, loopback only, the edge
failure-detection profile) and a simulated fleet of MQTT devices spread over them, prints where
to look, and stops everything on Ctrl-C (docs/demo.md).

  --hubs N               hubs in the ring, ids a, b, c, … (default 3, at most 9)
  --devices N            simulated devices (default 200; 0 = no fleet)
  --ports default|ephemeral
                         default: hub a on MQTT 1883 and admin 8080, hub b on 1884/8081, …,
                         each port that is taken replaced by a free one; ephemeral: all free ones
  --mqtt PORT            first hub's MQTT port in default mode (default 1883)
  --admin PORT           first hub's admin/UI port in default mode (default 8080)
  --data DIR             data and logs: DIR/<id>/hub.sqlite, DIR/<id>/hub.log, DIR/fleet.log
                         (default ./data/demo; kept between runs)
  --fresh                delete DIR first
  --no-desktop           do not start the Electron app (started only where its binary is installed)
  --ring-deadline-ms N   time for the hubs to start and form one ring (default 30000)
  --stop-deadline-ms N   time a process has to stop after SIGTERM before SIGKILL (default 10000)
`

const DEFAULTS: DemoOptions = {
  hubs: 3, devices: 200, ports: 'default', mqtt: 1883, admin: 8080, data: './data/demo', fresh: false, desktop: true,
  ringDeadlineMs: 30_000, stopDeadlineMs: 10_000, help: false,
}

const INT_FLAGS: Record<string, { key: 'hubs' | 'devices' | 'mqtt' | 'admin' | 'ringDeadlineMs' | 'stopDeadlineMs', min: number, max: number }> = {
  '--hubs': { key: 'hubs', min: 1, max: 9 },
  '--devices': { key: 'devices', min: 0, max: 10_000 },
  '--mqtt': { key: 'mqtt', min: 0, max: 65_535 },
  '--admin': { key: 'admin', min: 0, max: 65_535 },
  '--ring-deadline-ms': { key: 'ringDeadlineMs', min: 1_000, max: 600_000 },
  '--stop-deadline-ms': { key: 'stopDeadlineMs', min: 100, max: 600_000 },
}

/** `--flag value` and `--flag=value`; throws ConfigError naming the flag. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  const o: DemoOptions = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    if (flag === '--help' || flag === '-h') { o.help = true; continue }
    if (flag === '--fresh') { o.fresh = true; continue }
    if (flag === '--no-desktop') { o.desktop = false; continue }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new ConfigError(flag, 'needs a value')
    const int = INT_FLAGS[flag]
    if (int) {
      const n = Number(value)
      if (!/^\d+$/.test(value) || n < int.min || n > int.max) throw new ConfigError(flag, `${JSON.stringify(value)} is not an integer in ${int.min}..${int.max}`)
      o[int.key] = n
    } else if (flag === '--ports') {
      if (value !== 'default' && value !== 'ephemeral') throw new ConfigError(flag, 'default or ephemeral')
      o.ports = value
    } else if (flag === '--data') {
      if (value === '') throw new ConfigError(flag, 'needs a directory')
      o.data = value
    } else {
      throw new ConfigError(flag, 'unknown option (see ringhub demo --help)')
    }
  }
  return o
}

/** Hub ids of a demo ring: a, b, c, … */
export function hubIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i))
}

export interface PortWish { mqtt: number, admin: number, gossip: number, interHub: number }

/**
 * The ports hub `index` asks for before checking which are free (0 = ephemeral). Fixed ones are
 * predictable so a user can type them; gossip and inter-hub follow `ringhub hub`'s 7946/7947.
 */
export function wishedPorts(o: DemoOptions, index: number): PortWish {
  if (o.ports === 'ephemeral') return { mqtt: 0, admin: 0, gossip: 0, interHub: 0 }
  const at = (base: number, step = 1): number => base === 0 || base + index * step > 65_535 ? 0 : base + index * step
  return { mqtt: at(o.mqtt), admin: at(o.admin), gossip: at(7946, 2), interHub: at(7947, 2) }
}
