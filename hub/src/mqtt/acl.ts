/**
 * Who a connected client is, and the default ACL (pure functions, table-tested).
 *
 * - `operator` (and anonymous clients, when anonymous access is on) may publish and subscribe
 *   anywhere, like Mosquitto with allow_anonymous and no ACL file.
 * - `device` authenticated as `d42` may publish and subscribe under `devices/d42/#` only: a topic
 *   `devices/d42` or `devices/d42/...`, a filter whose fixed prefix stays inside that subtree.
 */
export type Role = 'device' | 'operator' | 'anonymous'

export interface Identity {
  readonly username: string | undefined
  readonly role: Role
}

export type AclAction = 'publish' | 'subscribe'

export function deviceRoot(username: string): string {
  return `devices/${username}`
}

/** True when `identity` may do `action` on `topic` (a topic name or, for subscribe, a filter). */
export function aclAllows(identity: Identity, action: AclAction, topic: string): boolean {
  if (identity.role === 'operator' || identity.role === 'anonymous') return true
  if (identity.username === undefined) return false
  const root = deviceRoot(identity.username)
  if (topic === root) return true
  if (!topic.startsWith(root + '/')) return false
  // A filter such as `devices/d42/#` or `devices/d42/+/temp` stays inside the subtree because the
  // two key levels are literal. Publish topics never hold wildcards (aedes rejects them earlier).
  return action === 'subscribe' || !/[+#]/.test(topic)
}

/**
 * A device may only use its own client id (`d42`) or one of its own (`d42:agent`), so it can
 * neither resume another device's persistent session (and read its queued messages) nor take
 * over its connection [MQTT-3.1.4-2]. ':' cannot occur in a user name, so `d42:x` never names
 * another user. An empty client id (the hub assigns one; clean session only) is allowed.
 */
export function clientIdAllowed(identity: Identity, clientId: string): boolean {
  if (identity.role !== 'device' || clientId === '') return true
  const name = identity.username as string
  return clientId === name || clientId.startsWith(name + ':')
}

/**
 * The will is a publish the hub makes on the client's behalf later, so it needs the same right
 * as a publish now; aedes does not check it, so it is checked at CONNECT (refused with 0x05, as
 * Mosquitto does). No one may leave a will in $SYS.
 */
export function willAllowed(identity: Identity, topic: string): boolean {
  return !topic.startsWith('$SYS') && aclAllows(identity, 'publish', topic)
}

/** Topics of the MQTT resume convention (resume-topic.ts): `$ringhub/resume/<clientId>/req|res`. */
export const RESUME_PREFIX = '$ringhub/resume/'

/**
 * Every client, whatever its role, may publish to its own `$ringhub/resume/<clientId>/req` and
 * subscribe to its own `.../res`, and to no other client's (a client id holding a wildcard gets
 * neither: as a filter it would match other clients' answers).
 */
export function ownResumeTopic(clientId: string, action: AclAction, topic: string): boolean {
  if (/[+#]/.test(clientId)) return false
  return topic === `${RESUME_PREFIX}${clientId}/${action === 'publish' ? 'req' : 'res'}`
}
