import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig, DEFAULTS } from '../../hub/src/config/load.js'
import { OPTIONS, envName } from '../../hub/src/config/options.js'
import { renderOptionsTable } from '../../hub/src/config/options-doc.js'
import { ConfigError } from '../../hub/src/base/errors.js'
import { REPO_ROOT, tempDir } from '../helpers/hubs.js'

const dir = tempDir()
afterAll(() => dir.remove())

describe('hub config', () => {
  it('has a default for every option except id and data, which derive from the host name', () => {
    const cfg = loadConfig({ overrides: { id: 'h7' } })
    expect(cfg).toMatchObject(DEFAULTS)
    expect(cfg.data).toBe(join('data', 'h7'))
  })

  it('takes flags over env over YAML over defaults', () => {
    const yaml = join(dir.path, 'hub.yaml')
    writeFileSync(yaml, 'id: from-yaml\nmqtt: 1000\nadmin: 1001\nmaxPacketBytes: 4096\nallowAnonymous: true\n')
    const cfg = loadConfig({
      argv: ['--config', yaml, '--mqtt', '3000'],
      env: { RINGHUB_MQTT: '2000', RINGHUB_ADMIN: '2001', RINGHUB_STORE_SYNC: 'full' },
    })
    expect(cfg).toMatchObject({ id: 'from-yaml', mqtt: 3000, admin: 2001, maxPacketBytes: 4096, allowAnonymous: true, storeSync: 'full', config: yaml })
  })

  it.each([
    [['--mqtt', '70000'], /mqtt: "70000" is out of range \[0, 65535\]/],
    [['--mqtt', 'abc'], /mqtt: "abc" is not an integer/],
    [['--store-sync', 'sometimes'], /storeSync: "sometimes" is not one of normal, full/],
    [['--max-packet-bytes', '10'], /maxPacketBytes: "10" is out of range \[64, 268435455\]/],
    [['--no-such-flag', '1'], /--no-such-flag: unknown option/],
    [['--mqtts', '8883'], /mqtts: the TLS listener needs both tlsCert and tlsKey/],
    [['--admin-tls', '8443', '--tls-cert', 'c.pem'], /adminTls: the admin TLS listener needs both tlsCert and tlsKey/],
    [['--mqtts', '0', '--tls-cert', 'c', '--tls-key', 'k', '--tls-client-certs', 'required'], /tlsClientCerts: required client certificates need tlsCa/],
    [['--tls-ca', 'ca.pem', '--tls-client-certs', 'optional'], /tlsClientCerts: client certificates need a TLS listener/],
    [['--tls-client-certs', 'sometimes'], /tlsClientCerts/],
    [['--inter-hub-tls-cert', 'c.pem', '--inter-hub-tls-key', 'k.pem'], /interHubTlsCert: TLS on the inter-hub link needs interHubTlsCert, interHubTlsKey and interHubTlsCa/],
    [['--inter-hub-tls-ca', 'ca.pem'], /interHubTlsCert: TLS on the inter-hub link needs/],
    [['--id', 'bad id!'], /id: "bad id!" must be/],
    [['--mqtt'], /mqtt: --mqtt needs a value/],
  ])('rejects %j with a clear error', (argv, message) => {
    expect(() => loadConfig({ argv })).toThrowError(message)
    expect(() => loadConfig({ argv })).toThrowError(ConfigError)
  })

  it('rejects unknown YAML keys and values of the wrong type', () => {
    const typo = join(dir.path, 'typo.yaml')
    writeFileSync(typo, 'mqttPort: 1883\n')
    expect(() => loadConfig({ argv: ['--config', typo] })).toThrowError(/mqttPort: unknown key/)
    const wrong = join(dir.path, 'wrong.yaml')
    writeFileSync(wrong, 'allowAnonymous: maybe\n')
    expect(() => loadConfig({ argv: ['--config', wrong] })).toThrowError(/allowAnonymous: "maybe" is not a boolean/)
  })

  it('reads a bare boolean flag', () => {
    expect(loadConfig({ argv: ['--allow-anonymous', '--id', 'x'] }).allowAnonymous).toBe(true)
  })

  it('documents every option in docs/configuration.md (regenerate with ringhub hub --options-markdown)', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8')
    expect(doc).toContain(renderOptionsTable())
    for (const o of OPTIONS) expect(renderOptionsTable()).toContain(`\`${envName(o.key)}\``)
  })
})
