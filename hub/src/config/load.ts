import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../base/errors.js'
import { OPTIONS, envName, type HubConfig, type OptionSpec } from './options.js'

type Partial_ = Partial<Record<keyof HubConfig, unknown>>

export const DEFAULTS: Omit<HubConfig, 'id' | 'data'> = {
  host: '0.0.0.0',
  mqtt: 1883,
  admin: 8080,
  mqtts: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  adminTls: undefined,
  tlsCa: undefined,
  tlsClientCerts: 'off',
  config: undefined,
  allowAnonymous: false,
  maxPacketBytes: 1_048_576,
  connectTimeoutMs: 10_000,
  drainTimeoutMs: 60_000,
  queueLimit: 100,
  maxInflightInbound: 1000,
  maxTopicLevels: 64,
  keepaliveLimitS: 0,
  maxQueuedMessages: 1000,
  flapMaxConnects: 0,
  flapWindowMs: 60_000,
  flapBanMs: 300_000,
  maxRssMb: 0,
  groupCommitMs: 0,
  storeSync: 'normal',
  sysIntervalMs: 10_000,
  logLevel: 'info',
  gossip: 7946,
  join: [],
  advertise: undefined,
  profile: 'lan',
  gossipKeys: [],
  clusterLabel: undefined,
  interHub: 7947,
  interHubTlsCert: undefined,
  interHubTlsKey: undefined,
  interHubTlsCa: undefined,
  keyDepth: 2,
  replicationFactor: 2,
  logRetentionMs: 604_800_000,
  logRetentionEntries: 10_000,
  logRetentionBytes: 4_194_304,
  adminToken: undefined,
}

/** Smallest memory cap taken: a Node.js process with the hub loaded is already near it. */
export const MIN_MAX_RSS_MB = 64

const BY_FLAG = new Map(OPTIONS.map((o) => [o.flag, o]))
const BY_KEY = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.key, o]))

/** Parses `--flag value` / `--flag=value` / `--bool-flag` arguments into raw option values. */
export function parseArgs(argv: readonly string[]): Partial_ {
  const out: Partial_ = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const spec = BY_FLAG.get(flag)
    if (!spec) throw new ConfigError(flag, `unknown option (see --help)`)
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined
    if (value === undefined) {
      const next = argv[i + 1]
      if (spec.type === 'bool' && (next === undefined || next.startsWith('--'))) value = 'true'
      else if (next === undefined) throw new ConfigError(spec.key, `${flag} needs a value`)
      else { value = next; i++ }
    }
    out[spec.key] = value
  }
  return out
}

/** Reads `RINGHUB_*` variables for every option. */
export function readEnv(env: NodeJS.ProcessEnv): Partial_ {
  const out: Partial_ = {}
  for (const spec of OPTIONS) {
    const v = env[envName(spec.key)]
    if (v !== undefined && v !== '') out[spec.key] = v
  }
  return out
}

/** Reads a YAML config file; unknown keys are errors (a typo must not silently fall back). */
export function readYaml(path: string): Partial_ {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError('config', `cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config', `${path} must hold a mapping of options`)
  const out: Partial_ = {}
  for (const [k, v] of Object.entries(doc)) {
    if (!BY_KEY.has(k)) throw new ConfigError(k, `unknown key in ${path}`)
    out[k as keyof HubConfig] = v
  }
  return out
}

function coerce(spec: OptionSpec, raw: unknown): unknown {
  const fail = (why: string): never => { throw new ConfigError(spec.key, `${JSON.stringify(raw)} ${why}`) }
  switch (spec.type) {
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') fail('is not a string')
      if (String(raw) === '') fail('must not be empty')
      return String(raw)
    case 'bool':
      if (typeof raw === 'boolean') return raw
      if (raw === 'true' || raw === '1' || raw === 'yes') return true
      if (raw === 'false' || raw === '0' || raw === 'no') return false
      return fail('is not a boolean (true/false)')
    case 'port':
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN
      if (!Number.isInteger(n)) fail('is not an integer')
      const [min, max] = spec.type === 'port' ? [0, 65535] : [spec.min ?? -Infinity, spec.max ?? Infinity]
      if (n < min || n > max) fail(`is out of range [${min}, ${max}]`)
      return n
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : fail('is not a list (comma-separated)')
      return items.map((x) => String(x).trim()).filter((x) => x !== '')
    }
    case 'enum':
      if (typeof raw !== 'string' || !spec.values?.includes(raw)) fail(`is not one of ${spec.values?.join(', ')}`)
      return raw
  }
}

export interface LoadSources {
  argv?: readonly string[]
  env?: NodeJS.ProcessEnv
  /** Overrides applied last (programmatic use, tests). */
  overrides?: Partial<HubConfig>
}

/**
 * Builds a validated config. Precedence, lowest first: defaults, YAML file, RINGHUB_* env,
 * command-line flags, programmatic overrides.
 */
export function loadConfig(sources: LoadSources = {}): HubConfig {
  const fromArgs = parseArgs(sources.argv ?? [])
  const fromEnv = readEnv(sources.env ?? {})
  const configPath = (sources.overrides?.config ?? fromArgs.config ?? fromEnv.config) as string | undefined
  const fromYaml = configPath ? readYaml(configPath) : {}
  const merged: Partial_ = { ...fromYaml, ...fromEnv, ...fromArgs }
  const out: Record<string, unknown> = { ...DEFAULTS }
  for (const [k, raw] of Object.entries(merged)) {
    const spec = BY_KEY.get(k) as OptionSpec
    out[k] = coerce(spec, raw)
  }
  Object.assign(out, sources.overrides ?? {})
  if (configPath) out.config = configPath
  if (out.id === undefined) out.id = hostname()
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(String(out.id))) {
    throw new ConfigError('id', `${JSON.stringify(out.id)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  if (out.data === undefined) out.data = join('data', String(out.id))
  const cfg = out as unknown as HubConfig
  for (const seed of cfg.join) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(seed)) throw new ConfigError('join', `${JSON.stringify(seed)} is not host:port`)
  }
  for (const key of cfg.gossipKeys) {
    if (Buffer.from(key, 'base64').length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) {
      throw new ConfigError('gossipKeys', 'each key must be base64 of 32 random bytes (openssl rand -base64 32)')
    }
  }
  if (cfg.mqtts !== undefined && (!cfg.tlsCert || !cfg.tlsKey)) {
    throw new ConfigError('mqtts', 'the TLS listener needs both tlsCert and tlsKey')
  }
  if (cfg.adminTls !== undefined && (!cfg.tlsCert || !cfg.tlsKey)) {
    throw new ConfigError('adminTls', 'the admin TLS listener needs both tlsCert and tlsKey')
  }
  if (cfg.tlsClientCerts !== 'off') {
    if (!cfg.tlsCa) throw new ConfigError('tlsClientCerts', `${cfg.tlsClientCerts} client certificates need tlsCa (the CA that signs them)`)
    if (cfg.mqtts === undefined && cfg.adminTls === undefined) throw new ConfigError('tlsClientCerts', 'client certificates need a TLS listener (mqtts or adminTls)')
  }
  if (cfg.maxRssMb !== 0 && cfg.maxRssMb < MIN_MAX_RSS_MB) {
    throw new ConfigError('maxRssMb', `${cfg.maxRssMb} MiB is below ${MIN_MAX_RSS_MB} MiB: a hub needs more than that idle (0 turns the cap off)`)
  }
  const linkTls = [cfg.interHubTlsCert, cfg.interHubTlsKey, cfg.interHubTlsCa]
  if (linkTls.some((f) => f !== undefined) && !linkTls.every((f) => f !== undefined)) {
    throw new ConfigError('interHubTlsCert', 'TLS on the inter-hub link needs interHubTlsCert, interHubTlsKey and interHubTlsCa')
  }
  return cfg
}
