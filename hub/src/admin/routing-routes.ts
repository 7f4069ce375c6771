import type { Aedes, AedesPublishPacket } from 'aedes'
import type { Clock } from '../base/clock.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { parseResumeRequest, readResume, resumeErrorText } from '../routing/resume.js'
import type { Router } from '../routing/router.js'
import { queryOf, readJsonBody } from './admin-params.js'
import { sendJson, type AdminServer } from './admin-server.js'
import { MAX_COMMAND_TIMEOUT_MS, isTopicLevel, sendCommand, type CommandTransport } from './device-commands.js'

/**
 * The admin routes that go through the ring: resume from an offset (`GET /api/keys/messages`)
 * and device commands (`POST /api/devices/<id>/commands`). docs/admin-api.md.
 */
export function registerRoutingRoutes(admin: AdminServer, deps: { router: Router, broker: Aedes, keyDepth: number, hubId: string, clock: Clock, metrics: HubMetrics }): void {
  const { router, broker, clock, keyDepth, hubId, metrics } = deps
  admin.route('GET /api/keys/messages', async (req, res) => {
    const query = queryOf(req)
    const parsed = parseResumeRequest({ key: query.get('key') ?? undefined, since: query.get('since') ?? undefined, limit: query.get('limit') ?? undefined }, keyDepth)
    if (typeof parsed === 'string') {
      metrics.resumeRequests.inc({ door: 'admin', result: 'error' })
      admin.countBadRequest(res, 'keys-query')
      return sendJson(res, 400, { error: parsed })
    }
    try {
      sendJson(res, 200, await readResume(router, parsed))
      metrics.resumeRequests.inc({ door: 'admin', result: 'ok' })
    } catch (err) {
      metrics.resumeRequests.inc({ door: 'admin', result: 'error' })
      sendJson(res, 503, { error: resumeErrorText(err) })
    }
  })
  let commandNo = 0
  admin.routePrefix('POST /api/devices/', async (req, res) => {
    const match = /^\/api\/devices\/([^/]+)\/commands$/.exec((req.url ?? '').split('?')[0] ?? '')
    if (!match) return sendJson(res, 404, { error: 'expected POST /api/devices/<id>/commands' })
    // Who may send commands is the admin API's auth (admin-auth.ts): a token, or loopback without one.
    let device: string
    try {
      device = decodeURIComponent(match[1] as string)
    } catch {
      return sendJson(res, 400, { error: 'the device id is not valid percent-encoding' }) // a URIError was a 500
    }
    const body = await readJsonBody(req, 64 * 1024)
    if (typeof body === 'string') return sendJson(res, 400, { error: body })
    const { name, args, timeoutMs = 5_000 } = body
    if (!isTopicLevel(device)) return sendJson(res, 400, { error: 'the device id must be one topic level (no /, +, #)' })
    if (typeof name !== 'string' || !isTopicLevel(name)) return sendJson(res, 400, { error: 'name must be a command name (one topic level)' })
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_COMMAND_TIMEOUT_MS) return sendJson(res, 400, { error: `timeoutMs must be an integer in [1, ${MAX_COMMAND_TIMEOUT_MS}]` })
    const outcome = await sendCommand(commandTransport(broker, router), clock, { device, name, args, timeoutMs, id: `${hubId}-${++commandNo}` })
    sendJson(res, outcome.status, outcome.body)
  })
}

/** Commands travel through the broker's bus, hence through the ring (see device-commands.ts). */
function commandTransport(broker: Aedes, router: Router): CommandTransport {
  return {
    subscribe: (topic, onMessage) => new Promise((resolve) => {
      const listener = (packet: AedesPublishPacket, done: () => void): void => {
        onMessage(Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload))
        done()
      }
      broker.subscribe(topic, listener, () => resolve(() => new Promise<void>((done) => { broker.unsubscribe(topic, listener, () => done()) })))
    }),
    publish: (topic, payload) => new Promise((resolve, reject) => {
      broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => { if (err) reject(err); else resolve() })
    }),
    retained: async (topic) => (await router.retainedFor([topic]))[0]?.payload,
  }
}
