import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { RinghubError } from '../base/errors.js'

const USAGE = `Usage: ringhub certs [--out DIR] [--hub ID]... [--host NAME]... [--client NAME]... [--days N]

Makes a development certificate authority and certificates it signs, with openssl (EC P-256,
SHA-256), for the hub's TLS listeners (mqtts, admin-tls), the inter-hub link and mTLS clients:
  DIR/ca.pem, ca.key            the CA (made once; reused when DIR already holds one)
  DIR/hub-ID.pem, hub-ID.key    per --hub (default: this machine's host name): server and client
                                certificate, names ID, localhost, 127.0.0.1 and every --host
  DIR/client-NAME.pem, .key     per --client: a client certificate whose CN NAME is the user name
                                (a device, or an operator added with ringhub users)
Keys are written readable by their owner only. For development and tests: a production ring
uses the organisation's own CA.
Options:
  --out DIR      where to write (default ./certs)
  --hub ID       a hub certificate (repeat, or comma-separated)
  --host NAME    another DNS name or IP address the hub certificates are valid for (repeat)
  --client NAME  a client certificate (repeat, or comma-separated)
  --days N       validity of new certificates (default 365)
`

/** Hub ids and user names as the hub accepts them (config/load.ts, store/user-store.ts). */
const NAME = /^[A-Za-z0-9._-]{1,64}$/
const HOST = /^[A-Za-z0-9.-]{1,253}$/
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

export interface DevCertsOptions {
  out: string
  hubs: readonly string[]
  hosts: readonly string[]
  clients: readonly string[]
  days: number
}

export interface DevCertsResult {
  caPath: string
  caReused: boolean
  hubs: Array<{ id: string, certPath: string, keyPath: string }>
  clients: Array<{ name: string, certPath: string, keyPath: string }>
}

export class CertsError extends RinghubError {}

/** Writes the CA (unless `out` has one) and the hub and client certificates it signs. */
export function issueDevCerts(opts: DevCertsOptions): DevCertsResult {
  for (const id of [...opts.hubs, ...opts.clients]) {
    if (!NAME.test(id)) throw new CertsError(`${JSON.stringify(id)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  for (const host of opts.hosts) {
    if (isIP(host) === 0 && !HOST.test(host)) throw new CertsError(`--host ${JSON.stringify(host)} is neither an IP address nor a DNS name`)
  }
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 3650) throw new CertsError('--days must be a whole number from 1 to 3650')
  const out = resolve(opts.out)
  mkdirSync(out, { recursive: true })
  const caPath = join(out, 'ca.pem')
  const caKeyPath = join(out, 'ca.key')
  const caReused = existsSync(caPath) && existsSync(caKeyPath)
  if (!caReused) {
    openssl(['req', '-x509', ...EC_KEY, '-sha256', '-days', String(opts.days), '-subj', '/CN=Ringhub development CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', caKeyPath, '-out', caPath])
    chmodSync(caKeyPath, 0o600)
  }
  const issue = (base: string, cn: string, extensions: string[]): { certPath: string, keyPath: string } => {
    const certPath = join(out, `${base}.pem`)
    const keyPath = join(out, `${base}.key`)
    const csr = join(out, `${base}.csr`)
    const ext = join(out, `${base}.ext`)
    writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions, ''].join('\n'))
    try {
      openssl(['req', '-new', ...EC_KEY, '-subj', `/CN=${cn}`, '-keyout', keyPath, '-out', csr])
      chmodSync(keyPath, 0o600)
      openssl(['x509', '-req', '-in', csr, '-CA', caPath, '-CAkey', caKeyPath, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-sha256', '-days', String(opts.days), '-extfile', ext, '-out', certPath])
    } finally {
      rmSync(csr, { force: true })
      rmSync(ext, { force: true })
    }
    return { certPath, keyPath }
  }
  const hubs = opts.hubs.map((id) => {
    const names = [...new Set([id, 'localhost', '127.0.0.1', ...opts.hosts])]
    const san = names.map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`)).join(',')
    // Both usages: the same certificate serves devices (mqtts, admin-tls) and dials peers (inter-hub link).
    return { id, ...issue(`hub-${id}`, id, ['extendedKeyUsage=serverAuth,clientAuth', `subjectAltName=${san}`]) }
  })
  const clients = opts.clients.map((name) => ({ name, ...issue(`client-${name}`, name, ['extendedKeyUsage=clientAuth']) }))
  return { caPath, caReused, hubs, clients }
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer }
    if (e.code === 'ENOENT') throw new CertsError('needs the openssl command (Debian: apt-get install openssl)')
    throw new CertsError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`)
  }
}

/** `ringhub certs`: a development CA and certificates (see USAGE). */
export function runCerts(argv: readonly string[]): number {
  let values
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string', default: 'certs' },
        hub: { type: 'string', multiple: true },
        host: { type: 'string', multiple: true },
        client: { type: 'string', multiple: true },
        days: { type: 'string', default: '365' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (err) {
    process.stderr.write(`ringhub certs: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const list = (v: string[] | undefined): string[] => (v ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '')
  const clients = list(values.client)
  const hubs = list(values.hub)
  try {
    const made = issueDevCerts({ out: values.out, hubs: hubs.length === 0 && clients.length === 0 ? [hostname()] : hubs, hosts: list(values.host), clients, days: Number(values.days) })
    const lines = [made.caReused ? `CA reused: ${made.caPath}` : `CA made:   ${made.caPath}`]
    for (const h of made.hubs) {
      lines.push(`hub ${h.id}: ${h.certPath}`,
        `  ringhub hub --id ${h.id} --mqtts 8883 --admin-tls 8443 --tls-cert ${h.certPath} --tls-key ${h.keyPath} \\`,
        `    --tls-ca ${made.caPath} --tls-client-certs optional \\`,
        `    --inter-hub-tls-cert ${h.certPath} --inter-hub-tls-key ${h.keyPath} --inter-hub-tls-ca ${made.caPath}`)
    }
    for (const c of made.clients) lines.push(`client ${c.name}: ${c.certPath} (key ${c.keyPath})`)
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  } catch (err) {
    if (err instanceof CertsError) {
      process.stderr.write(`ringhub certs: ${err.message}\n`)
      return 2
    }
    throw err
  }
}
