import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A self-signed certificate for 127.0.0.1/localhost, made with openssl into `dir`. */
export function selfSignedCert(dir: string): { certPath: string, keyPath: string, cert: Buffer } {
  const certPath = join(dir, 'cert.pem')
  const keyPath = join(dir, 'key.pem')
  execFileSync('openssl', [
    'req', '-x509', ...EC, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyPath, '-out', certPath,
  ], { stdio: 'ignore' })
  return { certPath, keyPath, cert: readFileSync(certPath) }
}

export interface IssuedCert { certPath: string, keyPath: string, cert: Buffer, key: Buffer }

/**
 * A certificate authority made with openssl into `dir` (a cluster CA, say): its certificate, and
 * `issue(name)` for certificates it signs, good for TLS servers and clients on 127.0.0.1/localhost.
 */
export function testCa(dir: string, name = 'ca'): { caPath: string, ca: Buffer, issue: (leaf: string) => IssuedCert } {
  const caPath = join(dir, `${name}.pem`)
  const caKeyPath = join(dir, `${name}.key`)
  execFileSync('openssl', [
    'req', '-x509', ...EC, '-days', '1', '-subj', `/CN=ringhub test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKeyPath, '-out', caPath,
  ], { stdio: 'ignore' })
  const issue = (leaf: string): IssuedCert => {
    const base = join(dir, `${name}-${leaf}`)
    writeFileSync(`${base}.ext`, [
      'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '',
    ].join('\n'))
    execFileSync('openssl', ['req', '-new', ...EC, '-subj', `/CN=${leaf}`, '-keyout', `${base}.key`, '-out', `${base}.csr`], { stdio: 'ignore' })
    execFileSync('openssl', [
      'x509', '-req', '-in', `${base}.csr`, '-CA', caPath, '-CAkey', caKeyPath, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`,
    ], { stdio: 'ignore' })
    return { certPath: `${base}.pem`, keyPath: `${base}.key`, cert: readFileSync(`${base}.pem`), key: readFileSync(`${base}.key`) }
  }
  return { caPath, ca: readFileSync(caPath), issue }
}
