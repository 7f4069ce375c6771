/**
 * The logger main's modules take: the part of pino's API they use, so main.ts passes the hub's
 * pino logger and tests pass a recorder.
 */
export interface MainLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** A logger that keeps every entry, for tests and for showing warnings in the settings page. */
export function recordingLog(): MainLog & { entries: Array<{ level: 'info' | 'warn' | 'error', obj: object, msg: string }> } {
  const entries: Array<{ level: 'info' | 'warn' | 'error', obj: object, msg: string }> = []
  return {
    entries,
    info: (obj, msg) => { entries.push({ level: 'info', obj, msg }) },
    warn: (obj, msg) => { entries.push({ level: 'warn', obj, msg }) },
    error: (obj, msg) => { entries.push({ level: 'error', obj, msg }) },
  }
}
