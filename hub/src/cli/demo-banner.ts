import { isAbsolute, relative } from 'node:path'
import { RINGHUB_BIN } from './demo-child.js'
import { firstDevice } from './demo-fleet.js'
import { DEMO_HOST, hubArgs, type DemoHub } from './demo-ring.js'

export interface BannerInput {
  hubs: readonly DemoHub[]
  /** The fleet's pid and size; undefined with `--devices 0`. */
  fleet: { pid: number, devices: number, logPath: string, connectedMs: number | undefined } | undefined
  checksum: string
}

/** Paths relative to where the demo runs when they are inside it, else absolute. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel
}

/**
 * What `ringhub demo` prints once everything is up: where the UI is, each hub's ports and pid,
 * commands to try, how to watch a failover. The e2e test parses the hub table and the fleet
 * line, so their shape is part of the contract (test/e2e/demo.test.ts).
 */
export function formatBanner({ hubs, fleet, checksum }: BannerInput): string {
  const a = hubs[0] as DemoHub
  const last = hubs[hubs.length - 1] as DemoHub
  const victim = hubs[1] ?? a
  const ui = `http://${DEMO_HOST}:${a.ports.admin}/`
  const device = fleet ? firstDevice(fleet.devices) : 'd1'
  const rows = hubs.map((h) => `  ${h.id.padEnd(4)} ${String(h.process.pid).padEnd(8)} ${`${DEMO_HOST}:${h.ports.mqtt}`.padEnd(17)} ${`http://${DEMO_HOST}:${h.ports.admin}/`.padEnd(26)} ${String(h.ports.gossip).padEnd(7)} ${shown(h.process.logPath)}`)
  const fleetLine = fleet
    ? `  fleet pid ${fleet.pid}: ${fleet.devices} simulated devices (${device} …), log ${shown(fleet.logPath)}\n` +
      `    spread over the hubs, moving to the next one when theirs fails; telemetry every second at QoS 1;\n` +
      `    they answer "ping" commands. ${fleet.connectedMs === undefined ? 'Still connecting.' : `All connected in ${fleet.connectedMs} ms.`}`
    : '  no simulated fleet (--devices 0)'
  return [
    '',
    `Ringhub demo: ${hubs.length} hub${hubs.length > 1 ? 's' : ''} in one ring (checksum ${checksum}) and ${fleet?.devices ?? 0} simulated devices on this machine (anonymous, loopback only).`,
    '',
    `  Operator UI   ${ui}   (served by every hub on its admin port)`,
    '',
    `  ${'hub'.padEnd(4)} ${'pid'.padEnd(8)} ${'MQTT'.padEnd(17)} ${'admin / UI / MQTT-WS'.padEnd(26)} ${'gossip'.padEnd(7)} log`,
    ...rows,
    fleetLine,
    '',
    'Try:',
    `  mosquitto_sub -h ${DEMO_HOST} -p ${last.ports.mqtt} -t 'devices/#' -v          # all telemetry, through hub ${last.id}`,
    `  mosquitto_pub -h ${DEMO_HOST} -p ${a.ports.mqtt} -t devices/${device}/cmd/ping -m '{"id":"t1"}'   # answer on devices/${device}/cmd/ping/res`,
    `  curl -X POST ${ui}api/devices/${device}/commands -H 'content-type: application/json' -d '{"name":"ping"}'`,
    `  npx ringhub ring status --admin ${DEMO_HOST}:${a.ports.admin}`,
    `  npx ringhub ring owner devices/${device}/telemetry/temp --admin ${DEMO_HOST}:${last.ports.admin}`,
    '',
    `Failover: kill -9 ${victim.process.pid}   (hub ${victim.id}) — within about 2 s the others mark it dead, its keys move`,
    '  to them and its devices reconnect there; the demo prints the command that restarts it.',
    '',
    'Ctrl-C stops everything: the fleet, then the hubs (they leave the ring gracefully).',
    '',
  ].join('\n')
}

/**
 * The command that restarts a hub that died, on the ports it had (the same gossip port is taken
 * back at once, a new one only after the dead-member reclaim time) and joining the others (even
 * the first hub: the survivors do not probe a member they declared dead).
 */
export function restartCommand(hub: DemoHub, all: readonly DemoHub[]): string {
  const dataIndex = hub.process.args.indexOf('--data')
  const data = String(hub.process.args[dataIndex + 1])
  const seeds = all.filter((h) => h !== hub).map((h) => `${DEMO_HOST}:${h.ports.gossip}`).join(',')
  const args = hubArgs(hub.id, data, { ...hub.ports, interHub: 0 }, seeds || undefined)
  return `node ${shown(RINGHUB_BIN)} ${args.join(' ')}`
}
