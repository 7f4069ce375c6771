import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino'

/** The logger every component takes. pino's API, so child loggers carry context. */
export type Logger = PinoLogger

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

/** JSON logs to `dest` (stdout by default). */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}, dest?: DestinationStream): Logger {
  const logger = pino({ level, base: { ...bindings } }, dest)
  return logger
}

/** A logger that drops everything; for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
