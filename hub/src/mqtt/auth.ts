import type { Client, AuthenticateError, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { Logger } from '../base/log.js'
import type { HubMetrics } from '../metrics/hub-metrics.js'
import { aclAllows, clientIdAllowed, ownResumeTopic, willAllowed, type Identity } from './acl.js'
import type { FlapGuard } from './flap-guard.js'
import type { OverloadGovernor } from './overload-governor.js'
import { certificateIdentity, certificateUser } from './server-tls.js'

/** Checks a username/password pair; returns the role, or undefined when refused. */
export interface CredentialChecker {
  verify(username: string, password: string): Promise<'device' | 'operator' | undefined>
  /** The role of a user who proved who they are otherwise (a client certificate); undefined: not a stored user. */
  roleOf(username: string): 'device' | 'operator' | undefined
}

interface ConnectFacts {
  readonly clientId: string
  readonly clean: boolean
  readonly willTopic: string | undefined
}

/**
 * aedes' authenticate / authorize hooks: credentials from the user store, the default ACL, and
 * MQTT 3.1.1 rules aedes 1.x does not enforce. Every refusal is logged and counted.
 */
/**
 * Password checks (scrypt, on libuv's 4-thread pool) allowed at once; further CONNECTs get
 * CONNACK 0x03 server unavailable and retry, instead of queueing without bound behind a flood.
 */
export const MAX_PENDING_CREDENTIAL_CHECKS = 64

/**
 * Longest client id taken, bytes. MQTT 3.1.1 allows up to 65535; 23 is only the minimum a server
 * must take [MQTT-3.1.3-5]. aedes applies its own limit to MQTT 3.1 only, so the hub checks it.
 */
export const MAX_CLIENT_ID_BYTES = 256

export class MqttAuth {
  readonly #identities = new WeakMap<Client, Identity>()
  #pendingChecks = 0
  readonly #connects = new WeakMap<Client, ConnectFacts>()

  constructor(private readonly deps: {
    credentials: CredentialChecker
    allowAnonymous: boolean
    log: Logger
    metrics: HubMetrics
    /** Flapping detection (`--flap-max-connects`); absent or off: every CONNECT is judged on its own. */
    flaps?: FlapGuard
    /** Memory overload protection: CONNECTs get CONNACK 0x03 while it is active. */
    overload?: Pick<OverloadGovernor, 'active' | 'shed'>
  }) {}

  identityOf(client: Client): Identity | undefined {
    return this.#identities.get(client)
  }

  /** aedes `preConnect`: remembers what authenticate needs from the CONNECT packet. */
  readonly preConnect = (client: Client, packet: ConnectPacket, callback: (err: Error | null, ok: boolean) => void): void => {
    this.#connects.set(client, { clientId: packet.clientId, clean: packet.clean !== false, willTopic: packet.will?.topic })
    callback(null, true)
  }

  readonly authenticate = (client: Client, username: Readonly<string> | undefined, password: Readonly<Buffer> | undefined, callback: (err: AuthenticateError | null, ok: boolean | null) => void): void => {
    const facts = this.#connects.get(client)
    this.#connects.delete(client)
    // Overloaded (EMQX's backoff_new_conn): a new client would bring new work and memory; 0x03
    // tells it to come back later, or to try another hub. Judged first: a refusal here is not a
    // connect the flapping detection should count.
    const overload = this.deps.overload
    if (overload?.active === true) {
      overload.shed('connect-refused')
      return this.#refuse(client, callback, 3, 'overloaded', 'server unavailable: hub overloaded (memory above its high-water mark)', username)
    }
    const ban = facts ? this.deps.flaps?.connecting(facts.clientId) : undefined
    if (ban) {
      if (ban.banned) this.deps.metrics.flapBans.inc()
      return this.#refuse(client, callback, 5, 'flapping-banned', `not authorized: client id banned for ${Math.ceil(ban.remainingMs / 1000)} s after too many connects`, username)
    }
    // [MQTT-3.1.3-8] an empty client id needs clean session 1; aedes 1.x would invent an id.
    if (facts && facts.clientId === '' && !facts.clean) {
      return this.#refuse(client, callback, 2, 'empty-client-id-persistent', 'identifier rejected: empty client id needs clean session')
    }
    if (facts && Buffer.byteLength(facts.clientId) > MAX_CLIENT_ID_BYTES) {
      return this.#refuse(client, callback, 2, 'client-id-too-long', `identifier rejected: client id over ${MAX_CLIENT_ID_BYTES} bytes`)
    }
    const certUser = certificateUser(client.conn, client.req)
    if (certUser !== undefined) return this.#certificateLogin(client, certUser, username, facts, callback)
    if (username === undefined || username === '') {
      if (this.deps.allowAnonymous) {
        const identity: Identity = { username: undefined, role: 'anonymous' }
        if (facts?.willTopic !== undefined && !willAllowed(identity, facts.willTopic)) {
          this.deps.metrics.aclDenials.inc({ action: 'will' })
          return this.#refuse(client, callback, 5, 'will-not-authorized', `not authorized: will topic ${facts.willTopic}`)
        }
        this.#identities.set(client, identity)
        return callback(null, true)
      }
      return this.#refuse(client, callback, 5, 'anonymous', 'not authorized: anonymous access is off')
    }
    const secret = password === undefined ? '' : password.toString('utf8')
    if (this.#pendingChecks >= MAX_PENDING_CREDENTIAL_CHECKS) {
      return this.#refuse(client, callback, 3, 'busy', 'server unavailable: too many logins in progress', username)
    }
    this.#pendingChecks++
    this.deps.credentials.verify(username, secret).finally(() => { this.#pendingChecks-- }).then((role) => {
      if (role === undefined) return this.#refuse(client, callback, 4, 'bad-credentials', 'bad user name or password', username)
      this.#admit(client, { username, role }, facts, callback)
    }, (err: unknown) => {
      this.deps.log.error({ err, username }, 'credential check failed')
      this.#refuse(client, callback, 5, 'store-error', 'not authorized: credential store unavailable', username)
    })
  }

  /**
   * A client whose TLS certificate (verified against tlsCa) names it: the CN is its user name, as
   * Mosquitto's use_identity_as_username and EMQX's peer_cert_as_username do. A stored user keeps
   * its role (an operator's tool), any other CN is a device. A user name in the CONNECT must be
   * the CN or absent: a certificate cannot be used to log in as someone else.
   */
  #certificateLogin(client: Client, certUser: string, username: string | undefined, facts: ConnectFacts | undefined, callback: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (username !== undefined && username !== '' && username !== certUser) {
      return this.#refuse(client, callback, 4, 'certificate-user-mismatch', `bad user name: the client certificate names ${certUser}`, username)
    }
    let identity: Identity
    try {
      identity = certificateIdentity(certUser, this.deps.credentials)
    } catch (err) {
      this.deps.log.error({ err, username: certUser }, 'credential lookup failed')
      return this.#refuse(client, callback, 5, 'store-error', 'not authorized: credential store unavailable', certUser)
    }
    this.deps.metrics.certificateLogins.inc()
    this.#admit(client, identity, facts, callback)
  }

  /** The checks every authenticated identity passes: its client id, its will topic. */
  #admit(client: Client, identity: Identity, facts: ConnectFacts | undefined, callback: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const username = identity.username as string
    if (facts && !clientIdAllowed(identity, facts.clientId)) {
      return this.#refuse(client, callback, 2, 'client-id-not-owned', `identifier rejected: device ${username} may use client id ${username} or ${username}:<suffix>`, username)
    }
    if (facts?.willTopic !== undefined && !willAllowed(identity, facts.willTopic)) {
      this.deps.metrics.aclDenials.inc({ action: 'will' })
      return this.#refuse(client, callback, 5, 'will-not-authorized', `not authorized: will topic ${facts.willTopic}`, username)
    }
    this.#identities.set(client, identity)
    callback(null, true)
  }

  readonly authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    if (packet.topic.startsWith('$SYS')) {
      // Clients never publish into $SYS, whatever their role (Mosquitto does the same).
      return this.#deny(client, 'publish', packet.topic, callback)
    }
    const identity = client ? this.#identities.get(client) : undefined
    if (client && (!identity || !(aclAllows(identity, 'publish', packet.topic) || ownResumeTopic(client.id, 'publish', packet.topic)))) {
      return this.#deny(client, 'publish', packet.topic, callback)
    }
    // aedes calls this once for every PUBLISH a client sends, so it is where they are counted.
    if (client) this.deps.metrics.traffic.messagesIn[packet.qos]++
    callback(null)
  }

  readonly authorizeSubscribe = (client: Client, sub: Subscription, callback: (err: Error | null, sub?: Subscription | null) => void): void => {
    const identity = this.#identities.get(client)
    if (!identity || !(aclAllows(identity, 'subscribe', sub.topic) || ownResumeTopic(client.id, 'subscribe', sub.topic))) {
      this.deps.metrics.aclDenials.inc({ action: 'subscribe' })
      this.deps.log.warn({ clientId: client.id, username: identity?.username, filter: sub.topic }, 'subscription denied by ACL')
      // A null subscription makes aedes answer SUBACK 0x80 for this filter [MQTT-3.9.3].
      return callback(null, null)
    }
    callback(null, sub)
  }

  #deny(client: Client | null, action: 'publish', topic: string, callback: (error?: Error | null) => void): void {
    this.deps.metrics.aclDenials.inc({ action })
    const username = client ? this.#identities.get(client)?.username : undefined
    this.deps.log.warn({ clientId: client?.id, username, topic }, 'publish denied by ACL; closing connection')
    // MQTT 3.1.1 has no negative PUBACK: the connection is closed (aedes; EMQX deny_action=disconnect).
    callback(new Error(`publish to ${topic} not authorized`))
  }

  #refuse(client: Client, callback: (err: AuthenticateError | null, ok: boolean | null) => void, returnCode: 2 | 3 | 4 | 5, reason: string, message: string, username?: string): void {
    this.deps.metrics.authFailures.inc({ reason })
    this.deps.log.warn({ clientId: client.id, username, reason, returnCode }, 'connect refused')
    const err = new Error(message) as AuthenticateError
    err.returnCode = returnCode as AuthenticateError['returnCode']
    callback(err, null)
  }
}
