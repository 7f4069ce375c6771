import type Database from 'better-sqlite3'
import { MESSAGE_ID_BIT, PACKET_COLUMNS as COLS, PACKET_PARAMS as PARAMS, type PacketRow } from './packet-codec.js'

/** A SUBSCRIBE entry as aedes passes it (mqtt-packet's shape). */
export interface Subscription {
  topic: string
  qos: number
  rh?: number | undefined
  rap?: boolean | undefined
  nl?: boolean | undefined
  /** MQTT 5 Subscription Identifier; stored only when present. */
  subscriptionIdentifier?: number | undefined
}

/** A subscription as kept per client, keyed by topic. */
export type SubscriptionRecord = Omit<Subscription, 'topic'>

/** A row of `subscriptions`. Booleans are 0/1, absent fields NULL. */
export interface SubscriptionRow {
  client_id: string
  topic: string
  qos: number
  rh: number | null
  rap: number | null
  nl: number | null
  subscription_id: number | null
}

export type ClientPacketRow = PacketRow & { client_id: string }
export type OutgoingRow = PacketRow & { seq: number }

/** The part of a better-sqlite3 statement used here, under a name declaration files can use. */
export interface Statement<P extends unknown[], R = unknown> {
  run(...params: P): Database.RunResult
  get(...params: P): R | undefined
  all(...params: P): R[]
  iterate(...params: P): IterableIterator<R>
}

/** The SQL of SqlitePersistence, prepared once per connection. */
export function prepareStatements(sqlite: Database.Database) {
  const p = <P extends unknown[] = [], R = unknown>(sql: string): Statement<P, R> => sqlite.prepare<P, R>(sql)
  return {
    retainedAll: p<[], PacketRow>(`SELECT ${COLS} FROM retained ORDER BY rowid`),
    retainedPut: p<[PacketRow]>(`INSERT INTO retained (${COLS}) VALUES (${PARAMS})
      ON CONFLICT (topic) DO UPDATE SET (${COLS}) = (${PARAMS})`),
    retainedDelete: p<[string]>('DELETE FROM retained WHERE topic = ?'),

    subscriptionsAll: p<[], SubscriptionRow>('SELECT client_id, topic, qos, rh, rap, nl, subscription_id FROM subscriptions ORDER BY rowid'),
    subscriptionPut: p<[SubscriptionRow]>(`INSERT INTO subscriptions (client_id, topic, qos, rh, rap, nl, subscription_id)
      VALUES (@client_id, @topic, @qos, @rh, @rap, @nl, @subscription_id)
      ON CONFLICT (client_id, topic) DO UPDATE SET qos = @qos, rh = @rh, rap = @rap, nl = @nl, subscription_id = @subscription_id`),
    subscriptionDelete: p<[string, string]>('DELETE FROM subscriptions WHERE client_id = ? AND topic = ?'),
    subscriptionsDeleteClient: p<[string]>('DELETE FROM subscriptions WHERE client_id = ?'),

    outgoingPut: p<[ClientPacketRow]>(`INSERT INTO outgoing (client_id, ${COLS}) VALUES (@client_id, ${PARAMS})`),
    outgoingByClient: p<[string], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing WHERE client_id = ? ORDER BY seq`),
    outgoingUnsent: p<[string], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing WHERE client_id = ? AND message_id IS NULL ORDER BY seq`),
    // outgoingUpdate matches the first queued packet either from the same broker with the same
    // counter, or from another broker with the same messageId (the memory persistence's loop).
    // `IS` because either side may be NULL, as `undefined === undefined` holds in that loop.
    outgoingSameOrigin: p<[string, string | null, number | null], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing
      WHERE client_id = ? AND broker_id IS ? AND broker_counter IS ? ORDER BY seq LIMIT 1`),
    outgoingSameMessageId: p<[string, number | null, string | null], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing
      WHERE client_id = ? AND message_id IS ? AND broker_id IS NOT ? ORDER BY seq LIMIT 1`),
    outgoingFirstByMessageId: p<[string, number | null], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing
      WHERE client_id = ? AND message_id IS ? ORDER BY seq LIMIT 1`),
    // A queued copy of a message the client already got (aedes' dedupe by brokerId/brokerCounter).
    outgoingUnsentSameOrigin: p<[string, string, number], OutgoingRow>(`SELECT seq, ${COLS} FROM outgoing
      WHERE client_id = ? AND broker_id = ? AND broker_counter = ? AND message_id IS NULL ORDER BY seq LIMIT 1`),
    outgoingSetMessageId: p<[number | null, number]>(`UPDATE outgoing SET message_id = ?, shape = shape | ${MESSAGE_ID_BIT} WHERE seq = ?`),
    outgoingReplace: p<[PacketRow & { seq: number }]>(`UPDATE outgoing SET (${COLS}) = (${PARAMS}) WHERE seq = @seq`),
    outgoingDelete: p<[number]>('DELETE FROM outgoing WHERE seq = ?'),
    outgoingCounts: p<[], { client_id: string, n: number }>('SELECT client_id, count(*) AS n FROM outgoing GROUP BY client_id'),

    incomingPut: p<[ClientPacketRow]>(`INSERT OR REPLACE INTO incoming (client_id, ${COLS}) VALUES (@client_id, ${PARAMS})`),
    incomingGet: p<[string, number | null], PacketRow>(`SELECT ${COLS} FROM incoming WHERE client_id = ? AND message_id = ?`),
    incomingDelete: p<[string, number | null]>('DELETE FROM incoming WHERE client_id = ? AND message_id = ?'),
    incomingAny: p<[string], { one: number }>('SELECT 1 AS one FROM incoming WHERE client_id = ? LIMIT 1'),
    incomingDeleteClient: p<[string]>('DELETE FROM incoming WHERE client_id = ?'),

    willPut: p<[ClientPacketRow]>(`INSERT OR REPLACE INTO wills (client_id, ${COLS}) VALUES (@client_id, ${PARAMS})`),
    willGet: p<[string], PacketRow>(`SELECT ${COLS} FROM wills WHERE client_id = ?`),
    willDelete: p<[string]>('DELETE FROM wills WHERE client_id = ?'),
    willsAll: p<[], PacketRow>(`SELECT ${COLS} FROM wills`),
  }
}

export type PersistenceStatements = ReturnType<typeof prepareStatements>

export function subscriptionToRow(clientId: string, topic: string, sub: SubscriptionRecord): SubscriptionRow {
  const bool = (b: boolean | undefined): number | null => b === undefined ? null : b ? 1 : 0
  return {
    client_id: clientId, topic, qos: sub.qos ?? 0, rh: sub.rh ?? null, rap: bool(sub.rap), nl: bool(sub.nl),
    subscription_id: sub.subscriptionIdentifier ?? null,
  }
}

/** The record shape aedes-persistence keeps: rh, rap and nl always present, maybe undefined. */
export function subscriptionFromRow(row: SubscriptionRow): SubscriptionRecord {
  const flag = (n: number | null): boolean | undefined => n === null ? undefined : n !== 0
  const record: SubscriptionRecord = { qos: row.qos, rh: row.rh ?? undefined, rap: flag(row.rap), nl: flag(row.nl) }
  if (row.subscription_id !== null) record.subscriptionIdentifier = row.subscription_id
  return record
}
