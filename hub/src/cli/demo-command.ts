import { createServer, type AddressInfo } from 'node:net'
import type { Hub } from '../hub.js'
import { runHub } from './hub-command.js'

/** A port we may bind on loopback: `preferred` when free, else an ephemeral one. */
async function freeOr(preferred: number, host: string): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(0))
    probe.listen(preferred, host, () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/**
 * `npm start`: one hub with demo defaults (anonymous, loopback only, ./data/demo). Uses 1883 and
 * 8080 when free, otherwise ephemeral ports, and prints where to connect.
 */
export async function runDemo(argv: readonly string[]): Promise<number> {
  const host = '127.0.0.1'
  const mqtt = await freeOr(1883, host)
  const admin = await freeOr(8080, host)
  const gossip = await freeOr(7946, host)
  const interHub = await freeOr(7947, host)
  const onStarted = ({ ports }: Hub): void => {
    process.stdout.write([
      '',
      'Ringhub demo hub is running (anonymous access, loopback only). Ctrl-C stops it.',
      `  MQTT/TCP       mqtt://${host}:${ports.mqtt}`,
      `  MQTT/WebSocket ws://${host}:${ports.admin}/mqtt`,
      `  Admin API      http://${host}:${ports.admin}/api/hub   metrics: /metrics   health: /healthz`,
      `  Try:  mosquitto_sub -h ${host} -p ${ports.mqtt} -t 'devices/#' -v`,
      `        mosquitto_pub -h ${host} -p ${ports.mqtt} -t devices/d1/temp -m 21.5`,
      '',
    ].join('\n') + '\n')
  }
  return runHub(['--id', 'demo', '--host', host, '--mqtt', String(mqtt), '--admin', String(admin), '--gossip', String(gossip), '--inter-hub', String(interHub), '--allow-anonymous', '--log-level', 'warn', ...argv], { onStarted })
}
