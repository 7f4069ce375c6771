import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { TLSSocket, type Server as TlsServer, type TlsOptions } from 'node:tls'
import type { Duplex } from 'node:stream'
import { ConfigError } from '../base/errors.js'
import type { Logger } from '../base/log.js'
import type { HubConfig } from '../config/options.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import type { Identity } from './acl.js'

/** The oldest TLS version any of the hub's listeners accepts (issue 7: TLS ≥ 1.2). */
export const MIN_TLS_VERSION = 'TLSv1.2'

/** What the device-facing TLS listeners (mqtts, adminTls) are made with. */
export type ServerTls = Pick<TlsOptions, 'cert' | 'key' | 'ca' | 'requestCert' | 'rejectUnauthorized' | 'minVersion'>

/**
 * The TLS settings of the mqtts and adminTls listeners, read from the files the config names, or
 * undefined when neither listener is on. With `tlsClientCerts`, clients are asked for a
 * certificate signed by `tlsCa`: `required` refuses the handshake without a valid one,
 * `optional` lets the client log in with a password instead (an invalid certificate is then
 * simply not an identity: see certificateUser).
 */
export function readServerTls(config: Pick<HubConfig, 'mqtts' | 'adminTls' | 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsClientCerts'>): ServerTls | undefined {
  if (config.mqtts === undefined && config.adminTls === undefined) return undefined
  const read = (field: 'tlsCert' | 'tlsKey' | 'tlsCa'): Buffer => {
    const path = config[field]
    if (!path) throw new ConfigError(field, 'is required here')
    try {
      return readFileSync(path)
    } catch (err) {
      throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  const tls: ServerTls = { cert: read('tlsCert'), key: read('tlsKey'), minVersion: MIN_TLS_VERSION }
  if (config.tlsClientCerts === 'off') return tls
  return { ...tls, ca: read('tlsCa'), requestCert: true, rejectUnauthorized: config.tlsClientCerts === 'required' }
}

/** A user name as the user store allows it (user-store.ts), so a CN can name only a possible user. */
const CERT_USER = /^[A-Za-z0-9._-]{1,64}$/

/**
 * The user a client proved with its TLS certificate: the subject CN of a certificate the
 * listener verified against `tlsCa`, or undefined (no TLS, no certificate, one the CA did not
 * sign, or a CN that cannot be a user name). `conn` is the client's connection as the broker
 * got it: the TLS socket itself (mqtts), or a WebSocket stream whose upgrade request `req`
 * came over the TLS socket (adminTls /mqtt).
 */
export function certificateUser(conn: Duplex | undefined, req?: IncomingMessage): string | undefined {
  const socket = conn instanceof TLSSocket ? conn : req?.socket instanceof TLSSocket ? req.socket : undefined
  if (!socket?.authorized) return undefined
  const cn = socket.getPeerCertificate().subject?.CN
  // A subject may repeat CN; node then gives an array. Two names are no identity.
  return typeof cn === 'string' && CERT_USER.test(cn) ? cn : undefined
}

/**
 * Who a client certificate's user is: a stored user keeps its role (an operator's tool), any
 * other name is a device. Throws when the user store cannot be read.
 */
export function certificateIdentity(username: string, credentials: { roleOf(username: string): 'device' | 'operator' | undefined }): Identity {
  return { username, role: credentials.roleOf(username) ?? 'device' }
}

/** Counts and logs the failed handshakes of a TLS listener (an old protocol, a refused certificate). */
export function countTlsHandshakeFailures(server: TlsServer, deps: { metrics: HubMetrics, log: Logger }, listener: string): void {
  server.on('tlsClientError', (err) => {
    deps.metrics.protocolErrors.inc({ reason: 'tls-handshake' })
    deps.log.info({ err: err.message, listener }, 'TLS handshake failed')
  })
}
