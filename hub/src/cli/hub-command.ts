import { createLogger } from '../base/log.js'
import { systemClock } from '../base/system-clock.js'
import { RinghubError } from '../base/errors.js'
import { loadConfig } from '../config/load.js'
import { OPTIONS, envName, type HubConfig } from '../config/options.js'
import { Hub } from '../hub.js'
import { renderOptionsTable } from '../config/options-doc.js'

export function hubHelp(): string {
  const rows = OPTIONS.map((o) => {
    const value = o.type === 'bool' ? '' : o.type === 'enum' ? ` ${o.values?.join('|')}` : o.type === 'string' ? ' VALUE' : o.type === 'list' ? ' A,B' : ' N'
    return `  ${(o.flag + value).padEnd(34)} ${o.doc}\n  ${''.padEnd(34)} default: ${o.defaultText}; env ${envName(o.key)}; YAML ${o.key}`
  })
  return `Usage: ringhub hub [options]\n\nPrecedence: flags > RINGHUB_* env > YAML (--config) > defaults.\n\n${rows.join('\n')}\n`
}

/** Runs a hub until SIGTERM/SIGINT, then stops it gracefully (store flushed). */
export async function runHub(argv: readonly string[], opts: { onStarted?: (hub: Hub) => void } = {}): Promise<number> {
  if (argv.includes('--options-markdown')) {
    process.stdout.write(renderOptionsTable() + '\n')
    return 0
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(hubHelp())
    return 0
  }
  let config: HubConfig
  try {
    config = loadConfig({ argv, env: process.env })
  } catch (err) {
    if (err instanceof RinghubError) {
      process.stderr.write(`ringhub hub: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  const hub = await Hub.start({ config, clock: systemClock, log })
  opts.onStarted?.(hub)
  // SIGHUP re-reads the configuration (same flags and environment, the YAML file as it is now)
  // and applies what can change at run time: gossip key rotation, log level.
  const onHangup = (): void => {
    try {
      hub.reload(loadConfig({ argv, env: process.env }))
    } catch (err) {
      log.error({ err }, 'configuration reload refused; the running configuration stays')
    }
  }
  process.on('SIGHUP', onHangup)
  await waitForSignal()
  process.off('SIGHUP', onHangup)
  log.info('signal received; stopping')
  await hub.stop()
  return 0
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      resolve()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}
