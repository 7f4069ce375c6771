/**
 * Numbered schema migrations. Migration `i` brings `PRAGMA user_version` from `i` to `i + 1`;
 * HubDb runs each pending one in its own transaction. Append only: never edit a migration that
 * has shipped, add a new one instead (an old hub must keep refusing a newer file, a new hub must
 * upgrade an old one step by step).
 */

/**
 * Columns that hold one MQTT packet (see packet-codec.ts). The common fields get a column each so
 * queries can filter on them and the file stays readable with the sqlite3 shell; `shape` records
 * which of them were own properties of the packet (so absent and `undefined` round-trip), and
 * `extra` holds every other field (MQTT 5 properties, clientId, ...) as a v8-serialized object.
 * `payload` has BLOB affinity, so a string payload stays TEXT and comes back a string.
 */
const PACKET_COLUMNS = `
  cmd TEXT,
  payload BLOB,
  qos INTEGER,
  retain INTEGER,
  dup INTEGER,
  broker_id TEXT,
  broker_counter INTEGER,
  shape INTEGER NOT NULL,
  extra BLOB`

const V1 = `
-- aedes session persistence (sqlite-persistence.ts). retained and subscriptions keep a rowid and
-- are upserted, so loading them in rowid order restores the order aedes saw them in.
CREATE TABLE retained (
  topic TEXT NOT NULL UNIQUE,
  message_id INTEGER,${PACKET_COLUMNS}
);

-- Subscriptions of persistent (clean=false) clients; QoS 0 ones too, aedes restores them.
CREATE TABLE subscriptions (
  client_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  qos INTEGER NOT NULL,
  rh INTEGER,
  rap INTEGER,
  nl INTEGER,
  subscription_id INTEGER,
  UNIQUE (client_id, topic)
);

-- Offline queue and in-flight QoS 1/2 per client. seq (the rowid) keeps FIFO order per client.
CREATE TABLE outgoing (
  seq INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  topic TEXT,
  message_id INTEGER,${PACKET_COLUMNS}
);
CREATE INDEX outgoing_by_client ON outgoing (client_id, seq);
CREATE INDEX outgoing_by_message_id ON outgoing (client_id, message_id);
CREATE INDEX outgoing_by_broker ON outgoing (client_id, broker_id, broker_counter);

-- Received QoS 2 PUBLISHes awaiting PUBREL [MQTT-4.3.3].
CREATE TABLE incoming (
  client_id TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  topic TEXT,${PACKET_COLUMNS},
  PRIMARY KEY (client_id, message_id)
) WITHOUT ROWID;

CREATE TABLE wills (
  client_id TEXT NOT NULL PRIMARY KEY,
  topic TEXT,
  message_id INTEGER,${PACKET_COLUMNS}
) WITHOUT ROWID;

-- Credentials (user-store.ts). params: JSON scrypt parameters, so they can change per user.
CREATE TABLE users (
  username TEXT NOT NULL PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('device', 'operator')),
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  params TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;
`

// Small durable facts about this hub itself (membership.ts: the last SWIM incarnation it used, so
// a restarted hub rejoins above it and its old incarnation cannot be replayed against it).
const V2 = `
CREATE TABLE node_state (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`

// Ordered topic logs (routing/, DESIGN §5): every message of a key this hub sequenced as its owner,
// numbered (epoch, seq); key_state holds each key's current epoch and last seq. Retained
// messages of routed topics live in the aedes \`retained\` table above, written by the owner.
const V3 = `
CREATE TABLE topic_log (
  key TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  PRIMARY KEY (key, epoch, seq)
) WITHOUT ROWID;

CREATE TABLE key_state (
  key TEXT NOT NULL PRIMARY KEY,
  epoch INTEGER NOT NULL,
  seq INTEGER NOT NULL
) WITHOUT ROWID;
`

// Retention by age scans the log by time (topic-log.ts \`prune\`).
const V4 = `
CREATE INDEX topic_log_by_time ON topic_log (ts_ms);
`

// Operator history (admin API, issue 6): this hub's 1-minute stats rollups (24 h kept) and the
// membership timeline it saw (last 10,000 events kept), so a reload or a restart shows history.
const V5 = `
CREATE TABLE stats_rollup (
  ts_ms INTEGER NOT NULL PRIMARY KEY,
  interval_ms INTEGER NOT NULL,
  connections INTEGER NOT NULL,
  msgs_in_per_s REAL NOT NULL,
  msgs_out_per_s REAL NOT NULL,
  inter_hub_bytes_in_per_s REAL NOT NULL,
  inter_hub_bytes_out_per_s REAL NOT NULL,
  drops INTEGER NOT NULL,
  store_lag_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE timeline (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  member TEXT NOT NULL,
  incarnation INTEGER,
  moved_share REAL
);
CREATE INDEX timeline_by_time ON timeline (ts_ms);
`

export const migrations: readonly string[] = [V1, V2, V3, V4, V5]
