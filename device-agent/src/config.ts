import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from './base/errors.js'
import { NAME_PATTERN } from './protocol/frames.js'
import { parseUsbIdentity, type UsbIdentity } from './serial/usb-identity.js'
import type { PortConfig } from './bridge/device-bridge.js'

/** Everything `ringhub agent` runs with (docs/agent.md "Options"). */
export interface AgentConfig {
  hubs: string[]
  ports: PortConfig[]
  outbox: string
  maxOutboxMessages: number
  maxOutboxBytes: number
  statsIntervalMs: number
  keepaliveS: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  ca: string | undefined
  insecure: boolean
  sysRoot: string
  devDir: string
}

type Kind = 'string' | 'int' | 'bool' | 'list'
interface Spec { flag: string, key: string, kind: Kind, doc: string, default: string, perPort?: boolean }

/** Every option: flag, YAML key, default and meaning. Per-port ones also go under `ports:` in YAML. */
export const AGENT_OPTIONS: readonly Spec[] = [
  { flag: '--port', key: 'path', kind: 'string', perPort: true, default: 'none', doc: 'serial port path, e.g. /dev/ttyUSB0' },
  { flag: '--usb', key: 'usb', kind: 'string', perPort: true, default: 'learned at first open', doc: 'USB identity VID:PID[:SERIAL] to find the port by when its path changes' },
  { flag: '--baud', key: 'baud', kind: 'int', perPort: true, default: '115200', doc: 'baud rate' },
  { flag: '--device', key: 'device', kind: 'string', perPort: true, default: 'required', doc: 'device id: topics devices/<id>/..., MQTT user name' },
  { flag: '--username', key: 'username', kind: 'string', perPort: true, default: 'the device id', doc: 'MQTT user name' },
  { flag: '--password', key: 'password', kind: 'string', perPort: true, default: 'env RINGHUB_AGENT_PASSWORD', doc: 'MQTT password' },
  { flag: '--max-frame-bytes', key: 'maxFrameBytes', kind: 'int', perPort: true, default: '1024', doc: 'longest serial frame in bytes; longer lines are dropped' },
  { flag: '--partial-timeout-ms', key: 'partialTimeoutMs', kind: 'int', perPort: true, default: '500', doc: 'drop a partial line after this silence (ms; 0 = never)' },
  { flag: '--command-timeout-ms', key: 'commandTimeoutMs', kind: 'int', perPort: true, default: '5000', doc: 'time a device has to answer a command (ms)' },
  { flag: '--hubs', key: 'hubs', kind: 'list', default: 'mqtt://127.0.0.1:1883', doc: 'hub URLs in order of preference (mqtt://, mqtts://, ws://, wss://)' },
  { flag: '--outbox', key: 'outbox', kind: 'string', default: './data/agent/outbox.sqlite', doc: 'SQLite outbox file' },
  { flag: '--max-outbox-messages', key: 'maxOutboxMessages', kind: 'int', default: '1000000', doc: 'outbox bound in messages; the oldest are dropped past it' },
  { flag: '--max-outbox-bytes', key: 'maxOutboxBytes', kind: 'int', default: '268435456', doc: 'outbox bound in bytes; the oldest are dropped past it' },
  { flag: '--stats-interval-ms', key: 'statsIntervalMs', kind: 'int', default: '60000', doc: 'log an "agent stats" line this often (ms; 0 = never)' },
  { flag: '--keepalive-s', key: 'keepaliveS', kind: 'int', default: '15', doc: 'MQTT keep-alive (s)' },
  { flag: '--ca', key: 'ca', kind: 'string', default: 'system CAs', doc: 'PEM CA bundle for mqtts:// and wss:// hubs' },
  { flag: '--insecure', key: 'insecure', kind: 'bool', default: 'off', doc: 'accept any TLS certificate (testing only)' },
  { flag: '--log-level', key: 'logLevel', kind: 'string', default: 'info', doc: 'fatal|error|warn|info|debug|trace|silent' },
  { flag: '--config', key: 'config', kind: 'string', default: 'none', doc: 'YAML file with any option; `ports:` lists several ports' },
  { flag: '--sys-root', key: 'sysRoot', kind: 'string', default: '/sys', doc: 'sysfs root for USB identities (tests point it at a fake tree)' },
  { flag: '--dev-dir', key: 'devDir', kind: 'string', default: '/dev', doc: 'where port names found in sysfs live (tests)' },
]

const BY_FLAG = new Map(AGENT_OPTIONS.map((o) => [o.flag, o]))
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const URL_PATTERN = /^(mqtt|mqtts|ws|wss|tcp|ssl):\/\/[^\s]+$/

function parseArgs(argv: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const spec = BY_FLAG.get(flag)
    if (!spec) throw new ConfigError(flag, 'unknown option (see ringhub agent --help)')
    if (spec.kind === 'bool') { out[spec.key] = eq > 0 ? arg.slice(eq + 1) : true; continue }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new ConfigError(flag, 'needs a value')
    out[spec.key] = value
  }
  return out
}

function int(field: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN
  if (!Number.isSafeInteger(n)) throw new ConfigError(field, `${JSON.stringify(v)} is not an integer`)
  if (n < min || n > max) throw new ConfigError(field, `${n} is outside ${min}..${max}`)
  return n
}

function str(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(field, 'must be a string')
  return String(v)
}

function portFrom(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, where: string): PortConfig {
  const device = str(`${where}device`, raw.device)
  if (device === undefined || !NAME_PATTERN.test(device)) throw new ConfigError(`${where}device`, device === undefined ? 'required (--device ID)' : `${JSON.stringify(device)} must match [A-Za-z0-9_.-]{1,64}`)
  const path = str(`${where}path`, raw.path)
  const usbText = str(`${where}usb`, raw.usb)
  let usb: UsbIdentity | undefined
  if (usbText !== undefined) {
    usb = parseUsbIdentity(usbText)
    if (!usb) throw new ConfigError(`${where}usb`, `${JSON.stringify(usbText)} is not VID:PID[:SERIAL] (hex, e.g. 2341:0043)`)
  }
  if (path === undefined && usb === undefined) throw new ConfigError(`${where}port`, 'required (--port PATH or --usb VID:PID)')
  const username = str(`${where}username`, raw.username)
  const password = str(`${where}password`, raw.password) ?? env.RINGHUB_AGENT_PASSWORD
  return {
    device, baud: int(`${where}baud`, raw.baud ?? 115200, 50, 4_000_000),
    ...(path !== undefined ? { path } : {}), ...(usb ? { usb } : {}),
    ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
    maxFrameBytes: int(`${where}maxFrameBytes`, raw.maxFrameBytes ?? 1024, 64, 65_536),
    partialTimeoutMs: int(`${where}partialTimeoutMs`, raw.partialTimeoutMs ?? 500, 0),
    commandTimeoutMs: int(`${where}commandTimeoutMs`, raw.commandTimeoutMs ?? 5000, 1, 600_000),
  }
}

/** Flags > YAML (`--config`) > defaults; a port given by flags replaces the YAML's `ports:`. */
export function loadAgentConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}): AgentConfig {
  const flags = parseArgs(argv)
  let yaml: Record<string, unknown> = {}
  if (typeof flags.config === 'string') {
    try {
      yaml = (parseYaml(readFileSync(flags.config, 'utf8')) ?? {}) as Record<string, unknown>
    } catch (err) {
      throw new ConfigError('config', `cannot read ${flags.config}: ${(err as Error).message}`, { cause: err })
    }
    if (typeof yaml !== 'object' || Array.isArray(yaml)) throw new ConfigError('config', 'the YAML file must hold a mapping')
  }
  const merged: Record<string, unknown> = { ...yaml, ...flags }
  const portKeys = AGENT_OPTIONS.filter((o) => o.perPort).map((o) => o.key)
  const flagPort = portKeys.some((k) => k in flags && (k === 'path' || k === 'usb'))
  let ports: PortConfig[]
  if (flagPort || !Array.isArray(yaml.ports)) {
    ports = [portFrom(merged, env, '')]
  } else {
    ports = (yaml.ports as unknown[]).map((p, i) => {
      if (typeof p !== 'object' || p === null) throw new ConfigError(`ports[${i}]`, 'must be a mapping')
      // Per-port values fall back to top-level ones (a shared password, baud rate, ...).
      const shared = Object.fromEntries(portKeys.filter((k) => k in merged && k !== 'path' && k !== 'usb' && k !== 'device').map((k) => [k, merged[k]]))
      return portFrom({ ...shared, ...p as Record<string, unknown> }, env, `ports[${i}].`)
    })
    if (ports.length === 0) throw new ConfigError('ports', 'lists no port')
  }
  const devices = new Set<string>()
  for (const p of ports) {
    if (devices.has(p.device)) throw new ConfigError('device', `${p.device} appears twice`)
    devices.add(p.device)
  }
  const hubsRaw = merged.hubs ?? 'mqtt://127.0.0.1:1883'
  const hubs = (Array.isArray(hubsRaw) ? hubsRaw.map(String) : String(hubsRaw).split(',')).map((h) => h.trim()).filter(Boolean)
  if (hubs.length === 0) throw new ConfigError('hubs', 'lists no hub')
  for (const h of hubs) if (!URL_PATTERN.test(h)) throw new ConfigError('hubs', `${JSON.stringify(h)} is not an mqtt://, mqtts://, ws:// or wss:// URL`)
  const logLevel = String(merged.logLevel ?? 'info')
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('logLevel', `${logLevel} is not one of ${LOG_LEVELS.join('|')}`)
  const insecure = merged.insecure
  return {
    hubs, ports,
    outbox: str('outbox', merged.outbox) ?? './data/agent/outbox.sqlite',
    maxOutboxMessages: int('maxOutboxMessages', merged.maxOutboxMessages ?? 1_000_000, 1),
    maxOutboxBytes: int('maxOutboxBytes', merged.maxOutboxBytes ?? 268_435_456, 1024),
    statsIntervalMs: int('statsIntervalMs', merged.statsIntervalMs ?? 60_000, 0),
    keepaliveS: int('keepaliveS', merged.keepaliveS ?? 15, 0, 65_535),
    logLevel: logLevel as AgentConfig['logLevel'],
    ca: str('ca', merged.ca),
    insecure: insecure === true || insecure === 'true',
    sysRoot: str('sysRoot', merged.sysRoot) ?? '/sys',
    devDir: str('devDir', merged.devDir) ?? '/dev',
  }
}

export function agentHelp(): string {
  const rows = AGENT_OPTIONS.map((o) => `  ${(o.flag + (o.kind === 'bool' ? '' : o.kind === 'list' ? ' A,B' : o.kind === 'int' ? ' N' : ' VALUE')).padEnd(28)} ${o.doc}\n  ${''.padEnd(28)} default: ${o.default}; YAML ${o.perPort ? 'ports[].' : ''}${o.key}`)
  return `Usage: ringhub agent --port PATH --device ID --hubs URL,URL [options]\n       ringhub agent --config agent.yaml\n\nBridges serial devices to the hubs (docs/agent.md). Precedence: flags > YAML > defaults.\n\n${rows.join('\n')}\n`
}
