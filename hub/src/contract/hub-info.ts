/**
 * What `GET /api/hub` returns (admin API v1). Shared with the UI, agent and simulator, so it
 * holds only plain data types.
 */
export interface HubPorts {
  /** MQTT over TCP. */
  mqtt: number
  /** MQTT over TLS, when enabled. */
  mqtts: number | null
  /** Admin HTTP (also MQTT over WebSocket at /mqtt). */
  admin: number
  /** Admin HTTPS (the same over TLS: wss at /mqtt and /channels), when enabled. */
  adminTls: number | null
  /** SWIM gossip, UDP and TCP. */
  gossip: number
}

export interface HubInfo {
  apiVersion: 1
  id: string
  version: string
  host: string
  ports: HubPorts
  /** WebSocket path for MQTT on the admin port. */
  wsPath: string
  startedAt: string
  uptimeMs: number
  clients: { connected: number }
  allowAnonymous: boolean
  maxPacketBytes: number
}
