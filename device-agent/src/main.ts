import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { SerialPort } from 'serialport'
import { systemClock } from './base/system-clock.js'
import { randomSeed, seededRng } from './base/rng.js'
import { AgentError } from './base/errors.js'
import { Agent } from './agent.js'
import { agentHelp, loadAgentConfig, type AgentConfig } from './config.js'
import { SysfsPortLister } from './serial/usb-identity.js'
import type { SerialOpener } from './serial/serial-link.js'

/** The real serial ports (serialport's native binding for this platform). */
export const systemSerialOpener: SerialOpener = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false })

/** `ringhub agent`: runs until SIGTERM/SIGINT, then stops cleanly (status offline, outbox kept). */
export async function runAgent(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(agentHelp())
    return 0
  }
  let config: AgentConfig
  try {
    config = loadAgentConfig(argv, process.env)
  } catch (err) {
    if (err instanceof AgentError) {
      process.stderr.write(`ringhub agent: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = pino({ level: config.logLevel, base: { part: 'agent' } })
  let agent: Agent
  try {
    agent = Agent.start({
      hubs: config.hubs, ports: config.ports, outboxPath: config.outbox,
      maxOutboxMessages: config.maxOutboxMessages, maxOutboxBytes: config.maxOutboxBytes,
      statsIntervalMs: config.statsIntervalMs, keepaliveS: config.keepaliveS,
      ...(config.ca !== undefined || config.insecure ? { tls: { ...(config.ca !== undefined ? { ca: readFileSync(config.ca) } : {}), rejectUnauthorized: !config.insecure } } : {}),
      opener: systemSerialOpener, lister: new SysfsPortLister(config.sysRoot, config.devDir),
      clock: systemClock, rng: seededRng(randomSeed()), log,
    })
  } catch (err) {
    if (err instanceof AgentError) {
      process.stderr.write(`ringhub agent: ${err.message}\n`)
      return 1
    }
    throw err
  }
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      resolve()
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  await agent.stop()
  return 0
}
