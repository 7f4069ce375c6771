/**
 * Every hub option, in one table: its YAML key, CLI flag, environment variable, type, default and
 * unit. The CLI parser, the YAML/env loader, `ringhub hub --help` and docs/configuration.md all
 * read this table, so an option cannot exist in one place and be missing from another.
 */
export type OptionType = 'port' | 'int' | 'string' | 'bool' | 'enum' | 'list'

export interface OptionSpec {
  /** Key in the YAML file and in `HubConfig`. */
  readonly key: keyof HubConfig
  /** `--flag` on the command line. */
  readonly flag: string
  readonly type: OptionType
  /** Allowed values, for `enum`. */
  readonly values?: readonly string[]
  /** Inclusive bounds, for `int`. */
  readonly min?: number
  readonly max?: number
  /** What the default is, in words (for docs and --help). */
  readonly defaultText: string
  readonly doc: string
}

export type StoreSync = 'normal' | 'full'
export type LogLevelOption = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface HubConfig {
  /** Hub id, unique in the ring. */
  id: string
  /** Bind address for every listener. */
  host: string
  /** MQTT/TCP port; 0 = ephemeral. */
  mqtt: number
  /** Admin HTTP port (REST, /metrics, /healthz, MQTT over WebSocket at /mqtt); 0 = ephemeral. */
  admin: number
  /** MQTT/TLS port; off when undefined. */
  mqtts: number | undefined
  tlsCert: string | undefined
  tlsKey: string | undefined
  /** Admin HTTPS port (the admin routes and WebSocket paths over TLS); off when undefined. */
  adminTls: number | undefined
  /** PEM file of the CA that signs client (device) certificates, for tlsClientCerts. */
  tlsCa: string | undefined
  /** Whether the TLS listeners ask clients for a certificate (mTLS); its CN is the user name. */
  tlsClientCerts: 'off' | 'optional' | 'required'
  /** Data directory (SQLite file lives here). */
  data: string
  /** Path of the YAML file the config came from, if any. */
  config: string | undefined
  allowAnonymous: boolean
  maxPacketBytes: number
  connectTimeoutMs: number
  drainTimeoutMs: number
  queueLimit: number
  maxInflightInbound: number
  maxTopicLevels: number
  keepaliveLimitS: number
  maxQueuedMessages: number
  groupCommitMs: number
  storeSync: StoreSync
  sysIntervalMs: number
  logLevel: LogLevelOption
  /** Gossip port, UDP and TCP; 0 = ephemeral. */
  gossip: number
  /** Seeds to join, "host:port". */
  join: string[]
  /** Gossip address others should use ("host" or "host:port"); default the bound one. */
  advertise: string | undefined
  profile: 'lan' | 'edge'
  /** Base64 AES-256 keys for gossip encryption; the first encrypts, all decrypt. */
  gossipKeys: string[]
  clusterLabel: string | undefined
  /** Inter-hub router port (TCP); 0 = ephemeral. */
  interHub: number
  /** TLS on the inter-hub link: this hub's PEM certificate and key, and the cluster CA; all three or none (plain TCP). */
  interHubTlsCert: string | undefined
  interHubTlsKey: string | undefined
  interHubTlsCa: string | undefined
  /** Topic levels that make up a key (which hub owns a topic). */
  keyDepth: number
  /** Copies of every message: the owner's and replicationFactor − 1 successors'. */
  replicationFactor: number
  /** Topic log retention: age (ms), entries and payload bytes per key; 0 = no limit. */
  logRetentionMs: number
  logRetentionEntries: number
  logRetentionBytes: number
  /** CONNECTs one client id may make per flapWindowMs before it is banned for flapBanMs; 0 = off. */
  flapMaxConnects: number
  flapWindowMs: number
  flapBanMs: number
  /** Process memory cap (RSS), MiB: above 70 % of it the hub sheds load until below 60 %; 0 = off. */
  maxRssMb: number
  /** Bearer token of the admin API (`/api/*`, `/api/v1/ws`); unset: loopback clients only. Never logged. */
  adminToken?: string | undefined
}

const PORT = { type: 'port' } as const

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'id', flag: '--id', type: 'string', defaultText: 'the machine host name', doc: 'Hub id, unique in the ring; also the MQTT broker id.' },
  { key: 'host', flag: '--host', type: 'string', defaultText: '0.0.0.0', doc: 'Address every listener binds to.' },
  { key: 'mqtt', flag: '--mqtt', ...PORT, defaultText: '1883', doc: 'MQTT over TCP port. 0 picks a free port.' },
  { key: 'admin', flag: '--admin', ...PORT, defaultText: '8080', doc: 'Admin HTTP port: REST API, /metrics, /healthz and MQTT over WebSocket at /mqtt. 0 picks a free port.' },
  { key: 'mqtts', flag: '--mqtts', ...PORT, defaultText: 'off', doc: 'MQTT over TLS port; needs tlsCert and tlsKey. 0 picks a free port.' },
  { key: 'tlsCert', flag: '--tls-cert', type: 'string', defaultText: 'none', doc: 'PEM certificate (chain) file for the TLS listener.' },
  { key: 'tlsKey', flag: '--tls-key', type: 'string', defaultText: 'none', doc: 'PEM private key file for the TLS listener.' },
  { key: 'adminTls', flag: '--admin-tls', ...PORT, defaultText: 'off', doc: 'Admin HTTPS port: everything the admin port serves (API, UI, /metrics, /healthz, MQTT over secure WebSocket at /mqtt, channels at /channels) over TLS; needs tlsCert and tlsKey. 0 picks a free port.' },
  { key: 'tlsCa', flag: '--tls-ca', type: 'string', defaultText: 'none', doc: 'PEM file of the CA that signs client certificates (devices, operators\' tools); used with tlsClientCerts. `ringhub certs` makes a development one.' },
  { key: 'tlsClientCerts', flag: '--tls-client-certs', type: 'enum', values: ['off', 'optional', 'required'], defaultText: 'off', doc: 'Mutual TLS on the mqtts and adminTls listeners: optional asks for a client certificate signed by tlsCa, required refuses the handshake without one. A verified certificate\'s subject CN is the client\'s user name (no password needed): a device d42 gets the ACL of d42, an operator in `ringhub users` the operator\'s.' },
  { key: 'data', flag: '--data', type: 'string', defaultText: './data/<id>', doc: 'Data directory; holds hub.sqlite (WAL).' },
  { key: 'config', flag: '--config', type: 'string', defaultText: 'none', doc: 'YAML file with any of these options (keys as in this table).' },
  { key: 'allowAnonymous', flag: '--allow-anonymous', type: 'bool', defaultText: 'false', doc: 'Accept clients without credentials; they get the operator ACL (everything).' },
  { key: 'maxPacketBytes', flag: '--max-packet-bytes', type: 'int', min: 64, max: 268_435_455, defaultText: '1048576 (1 MiB)', doc: 'Largest MQTT packet accepted (bytes, whole packet). Larger Remaining Length closes the connection before the body is buffered. Also the WebSocket maxPayload.' },
  { key: 'connectTimeoutMs', flag: '--connect-timeout-ms', type: 'int', min: 100, max: 600_000, defaultText: '10000', doc: 'Milliseconds a new connection has to send CONNECT.' },
  { key: 'drainTimeoutMs', flag: '--drain-timeout-ms', type: 'int', min: 0, max: 3_600_000, defaultText: '60000', doc: 'Milliseconds a client may stay unwritable before it is disconnected (0 = never).' },
  { key: 'queueLimit', flag: '--queue-limit', type: 'int', min: 1, max: 100_000, defaultText: '100', doc: 'Packets a connecting client may queue before CONNECT processing ends.' },
  { key: 'maxInflightInbound', flag: '--max-inflight-inbound', type: 'int', min: 0, max: 65_535, defaultText: '1000', doc: 'Inbound QoS 2 messages per client awaiting PUBREL, and QoS 1 publishes per client awaiting their PUBACK while the client\'s next packets are read (0 = unlimited).' },
  { key: 'maxTopicLevels', flag: '--max-topic-levels', type: 'int', min: 1, max: 100, defaultText: '64', doc: 'Most levels in a topic or filter; deeper ones close the connection.' },
  { key: 'keepaliveLimitS', flag: '--keepalive-limit-s', type: 'int', min: 0, max: 65_535, defaultText: '0 (no limit)', doc: 'Largest keep-alive (seconds) a client may ask for; larger gets CONNACK 0x06 (aedes).' },
  { key: 'maxQueuedMessages', flag: '--max-queued-messages', type: 'int', min: 0, max: 10_000_000, defaultText: '1000', doc: 'Messages (QoS 1/2) queued for one disconnected persistent-session client; further ones are dropped and counted (0 = unlimited).' },
  { key: 'flapMaxConnects', flag: '--flap-max-connects', type: 'int', min: 0, max: 1_000_000, defaultText: '0 (off, as in EMQX)', doc: 'Flapping detection: a client id that sends more CONNECTs than this within flapWindowMs is banned for flapBanMs (its CONNECTs get CONNACK 0x05 and are counted). Per hub. 15 is EMQX\'s suggested value.' },
  { key: 'flapWindowMs', flag: '--flap-window-ms', type: 'int', min: 1_000, max: 86_400_000, defaultText: '60000', doc: 'Window of flapMaxConnects, ms.' },
  { key: 'flapBanMs', flag: '--flap-ban-ms', type: 'int', min: 1_000, max: 86_400_000, defaultText: '300000', doc: 'How long a flapping client id stays banned, ms.' },
  { key: 'maxRssMb', flag: '--max-rss-mb', type: 'int', min: 0, max: 1_048_576, defaultText: '0 (off)', doc: 'Memory overload protection: a cap on the hub process\'s resident memory (RSS), MiB; 0 or at least 64. Memory is looked at every 100 ms and every 256 KiB read from clients; from 70 % of the cap (RSS less the free heap V8 keeps) the hub is overloaded until below 60 % (or no longer falling): it stops reading from connected clients (TCP pushes back on publishers; no acknowledged message is lost), refuses new connections with CONNACK 0x03 and drops QoS 0 deliveries, all counted (ringhub_overload_*). Set it well above the idle RSS (docs/reliability.md "Overload").' },
  { key: 'groupCommitMs', flag: '--group-commit-ms', type: 'int', min: 0, max: 1000, defaultText: '0 (next event-loop turn)', doc: 'Milliseconds writes gather into one SQLite transaction before commit; 0 = everything written in one event-loop turn (one socket read of every client) shares one commit.' },
  { key: 'storeSync', flag: '--store-sync', type: 'enum', values: ['normal', 'full'], defaultText: 'normal', doc: 'SQLite synchronous mode: normal survives process crashes (kill -9); full also survives power loss, at a cost per commit.' },
  { key: 'sysIntervalMs', flag: '--sys-interval-ms', type: 'int', min: 0, max: 3_600_000, defaultText: '10000', doc: 'Milliseconds between $SYS/broker/... updates (0 = off).' },
  { key: 'gossip', flag: '--gossip', type: 'port', defaultText: '7946', doc: 'SWIM gossip port, UDP (probes, gossip) and TCP (state sync) on the same number. 0 picks a free port.' },
  { key: 'join', flag: '--join', type: 'list', defaultText: 'none', doc: 'Seed hubs to join, comma-separated host:port; retried with backoff until one answers.' },
  { key: 'advertise', flag: '--advertise', type: 'string', defaultText: 'the bound address', doc: 'Address (host or host:port) other hubs use to reach this one, for NAT and network namespaces; also used for the MQTT and admin addresses it gossips.' },
  { key: 'profile', flag: '--profile', type: 'enum', values: ['lan', 'edge'], defaultText: 'lan', doc: 'Failure-detection profile: lan (memberlist LAN defaults, probe 1 s) or edge (probe 200 ms, for small rings on one LAN). See docs/membership.md.' },
  { key: 'gossipKeys', flag: '--gossip-key', type: 'list', defaultText: 'none (plaintext)', doc: 'AES-256-GCM gossip keys, base64 of 32 bytes, comma-separated; the first encrypts, all decrypt (rotate: add, make first, remove).' },
  { key: 'clusterLabel', flag: '--cluster-label', type: 'string', defaultText: 'none', doc: 'Cluster label bound to every gossip packet; packets with another label are dropped.' },
  { key: 'interHub', flag: '--inter-hub', type: 'port', defaultText: '7947', doc: 'Inter-hub router port (TCP, or TLS with the three options below): publishes forwarded to owners, deliveries to interested hubs. One connection per pair of hubs, dialed by the smaller id. 0 picks a free port.' },
  { key: 'interHubTlsCert', flag: '--inter-hub-tls-cert', type: 'string', defaultText: 'none (plain TCP)', doc: 'PEM certificate (chain) file of this hub, signed by the cluster CA. With interHubTlsKey and interHubTlsCa, every inter-hub connection is TLS (1.2 or later) and both ends verify the other\'s certificate; every hub of the ring needs all three.' },
  { key: 'interHubTlsKey', flag: '--inter-hub-tls-key', type: 'string', defaultText: 'none', doc: 'PEM private key file of interHubTlsCert.' },
  { key: 'interHubTlsCa', flag: '--inter-hub-tls-ca', type: 'string', defaultText: 'none', doc: 'PEM file of the cluster CA that signed every hub\'s interHubTlsCert; a peer whose certificate it did not sign is refused and counted. Host names are not checked: use a CA for the ring alone.' },
  { key: 'keyDepth', flag: '--key-depth', type: 'int', min: 1, max: 16, defaultText: '2', doc: 'Topic levels that make up a key: devices/d42/... has key devices/d42; one hub owns each key. Must be equal on every hub.' },
  { key: 'replicationFactor', flag: '--replication-factor', type: 'int', min: 1, max: 5, defaultText: '2', doc: 'Copies of every message: the owner logs it and copies it to replicationFactor − 1 successors on the ring before a QoS 1/2 publish is acknowledged (fewer while the ring is smaller). 1 = no copies.' },
  { key: 'logRetentionMs', flag: '--log-retention-ms', type: 'int', min: 0, max: 31_536_000_000, defaultText: '604800000 (7 days)', doc: 'Topic log entries older than this are deleted (checked every minute); 0 = kept whatever their age.' },
  { key: 'logRetentionEntries', flag: '--log-retention-entries', type: 'int', min: 0, max: 100_000_000, defaultText: '10000', doc: 'Newest entries kept per key in the topic log; 0 = no count limit.' },
  { key: 'logRetentionBytes', flag: '--log-retention-bytes', type: 'int', min: 0, max: 1_099_511_627_776, defaultText: '4194304 (4 MiB)', doc: 'Payload bytes kept per key in the topic log (the newest entry always stays); 0 = no size limit.' },
  { key: 'adminToken', flag: '--admin-token', type: 'string', defaultText: 'none (loopback only)', doc: 'Bearer token the admin API requires (`Authorization: Bearer <token>`; the admin WebSocket also accepts `?token=`). Unset: /api/* answers loopback clients only (403 otherwise). /healthz, /metrics, /mqtt and the UI files need none. Prefer RINGHUB_ADMIN_TOKEN or the YAML file to the flag (other users can read command lines); never logged.' },
  { key: 'logLevel', flag: '--log-level', type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], defaultText: 'info', doc: 'pino log level (JSON lines on stdout).' },
]

/** `RINGHUB_MAX_PACKET_BYTES` for `maxPacketBytes`. */
export function envName(key: string): string {
  return 'RINGHUB_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()
}
