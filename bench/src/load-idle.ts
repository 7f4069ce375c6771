import { MqttClient } from './mqtt-client.js'
import type { IdleResult, IdleSpec } from './ipc-protocol.js'

/**
 * Opens `count` idle MQTT connections (CONNECT, clean session, then silence), at most
 * `concurrency` handshakes at a time, and keeps them in `into` until the worker stops.
 */
export async function openIdle(host: string, port: number, spec: IdleSpec, into: MqttClient[], timeoutMs: number): Promise<IdleResult> {
  const startMs = performance.now()
  let next = 0
  let failed = 0
  let firstError: string | undefined
  const lane = async (): Promise<void> => {
    while (next < spec.count) {
      const index = next++
      try {
        into.push(await MqttClient.connect({ host, port, clientId: `${spec.clientIdPrefix}-${index}`, keepaliveS: spec.keepaliveS }, timeoutMs))
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.count) }, lane))
  return {
    type: 'idle',
    connected: spec.count - failed,
    failed,
    elapsedMs: performance.now() - startMs,
    ...(firstError === undefined ? {} : { firstError }),
  }
}
