import { Counter, Gauge, type Registry } from 'prom-client'

/**
 * The admin API's own counters, on the hub's registry (they show on /metrics next to the rest).
 * Bad input from the UI is counted here (DESIGN §3.7), never thrown.
 */
export class AdminMetrics {
  readonly refused: Counter<'status'>
  readonly badRequests: Counter<'reason'>
  readonly wsBadFrames: Counter<'reason'>
  readonly wsClosed: Counter<'reason'>
  readonly wsClients: Gauge
  readonly tapSkipped: Counter
  readonly tapDropped: Counter
  readonly peerQueryFailures: Counter<'query'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.refused = new Counter({ name: 'ringhub_admin_refused_total', help: 'Admin API requests and WebSocket upgrades refused by auth, by status (401 no or wrong token, 403 not loopback without a token)', labelNames: ['status'] as const, registers })
    this.badRequests = new Counter({ name: 'ringhub_admin_bad_requests_total', help: 'Admin requests refused for bad input, by reason: HTTP queries, bodies and paths answered 4xx, and peers\' malformed admin queries (peer-query)', labelNames: ['reason'] as const, registers })
    this.wsBadFrames = new Counter({ name: 'ringhub_admin_ws_bad_frames_total', help: 'Admin WebSocket frames answered with an error frame (malformed JSON, unknown op or channel, bad filter, oversized), by reason', labelNames: ['reason'] as const, registers })
    this.wsClosed = new Counter({ name: 'ringhub_admin_ws_closed_total', help: 'Admin WebSockets closed by the hub, by reason (abuse, slow)', labelNames: ['reason'] as const, registers })
    this.wsClients = new Gauge({ name: 'ringhub_admin_ws_clients', help: 'Open admin WebSockets', registers })
    this.tapSkipped = new Counter({ name: 'ringhub_admin_tap_skipped_total', help: 'Messages matching a live tap that its rate limit skipped (sampling)', registers })
    this.tapDropped = new Counter({ name: 'ringhub_admin_tap_dropped_total', help: 'Live tap frames dropped because the WebSocket was not draining (bufferedAmount over the bound)', registers })
    this.peerQueryFailures = new Counter({ name: 'ringhub_admin_peer_query_failures_total', help: 'Ring-wide admin queries a peer hub did not answer in time (its part is missing from the answer), by query', labelNames: ['query'] as const, registers })
  }
}
