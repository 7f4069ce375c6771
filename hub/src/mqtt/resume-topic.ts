import type { Aedes, AedesPublishPacket, Client } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { parseResumeRequest, readResume, resumeErrorText } from '../routing/resume.js'
import type { Router } from '../routing/router.js'
import { RESUME_PREFIX, aclAllows, ownResumeTopic, type Identity } from './acl.js'

/**
 * Resume from an offset over MQTT (issue 4 item 7; docs/mqtt.md "Resume from an offset"). A
 * client subscribes to `$ringhub/resume/<its client id>/res` and publishes a JSON request
 * `{ "key": "devices/d42", "since": "3:17", "limit": 100, "ref": "any" }` to
 * `$ringhub/resume/<its client id>/req`; the hub answers on `.../res` with the same JSON as the
 * admin API's `GET /api/keys/messages` plus `ref`, or `{ "ref", "error" }`. `$` topics stay on
 * the hub the client is connected to, so only that client (or an operator) sees the answer; a
 * client may use only its own pair of topics and resume only keys it may subscribe to.
 */

/** Largest request payload, bytes. */
const MAX_REQUEST_BYTES = 4_096

export function installResumeTopic(deps: { broker: Aedes, router: Router, keyDepth: number, identityOf: (client: Client) => Identity | undefined, metrics: HubMetrics, log: Logger }): void {
  const { broker, metrics, log } = deps
  /** Clients with a request being answered: one at a time each (a second gets `busy`). */
  const busy = new Set<string>()
  broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (!client || !packet.topic.startsWith(RESUME_PREFIX) || !ownResumeTopic(client.id, 'publish', packet.topic)) return
    const reply = (body: object, result: 'ok' | 'error'): void => {
      metrics.resumeRequests.inc({ door: 'mqtt', result })
      broker.publish({ cmd: 'publish', topic: `${RESUME_PREFIX}${client.id}/res`, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: false, dup: false }, (err) => {
        if (err) log.warn({ err, clientId: client.id }, 'resume answer not delivered')
      })
    }
    const request = parseRequest(packet.payload)
    const ref = typeof request === 'object' ? request.ref : undefined
    if (typeof request === 'string') return reply({ error: request }, 'error')
    const parsed = parseResumeRequest(request, deps.keyDepth)
    if (typeof parsed === 'string') return reply({ ref, error: parsed }, 'error')
    const identity = deps.identityOf(client)
    if (!identity || !aclAllows(identity, 'subscribe', parsed.key)) return reply({ ref, error: `not authorized to read ${parsed.key}` }, 'error')
    if (busy.has(client.id)) return reply({ ref, error: 'busy: one resume request at a time' }, 'error')
    busy.add(client.id)
    readResume(deps.router, parsed).then(
      (answer) => reply({ ref, ...answer }, 'ok'),
      (err: unknown) => reply({ ref, error: resumeErrorText(err) }, 'error'),
    ).finally(() => busy.delete(client.id))
  })
}

function parseRequest(payload: Buffer | string): { key?: unknown, since?: unknown, limit?: unknown, ref?: unknown } | string {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8')
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) return `the request is over ${MAX_REQUEST_BYTES} bytes`
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the request must be a JSON object'
    const { ref } = value as { ref?: unknown }
    if (ref !== undefined && typeof ref !== 'string' && typeof ref !== 'number') return 'ref must be a string or a number'
    return value as { key?: unknown, since?: unknown, limit?: unknown, ref?: unknown }
  } catch {
    return 'the request is not JSON'
  }
}
