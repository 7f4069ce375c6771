import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { SerialPort } from 'serialport'
import type { SerialOpener } from '../../device-agent/src/serial/serial-link.js'
import { REPO_ROOT } from './hubs.js'
import { waitFor } from './wait.js'

/** The real serial binding, as `ringhub agent` uses it. */
export const realSerial: SerialOpener = (path, baudRate) => new SerialPort({ path, baudRate, autoOpen: false })

export interface SpawnedProcess {
  child: ChildProcess
  /** Every stdout/stderr line; JSON lines also parsed into `entries`. */
  lines: string[]
  entries: Array<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Runs `ringhub <args>` (the built CLI) as a real process, collecting its output. */
export function spawnRinghub(args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnedProcess {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/ringhub.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const lines: string[] = []
  const entries: Array<Record<string, unknown>> = []
  const onLine = (line: string): void => {
    lines.push(line)
    if (line.startsWith('{')) {
      try { entries.push(JSON.parse(line) as Record<string, unknown>) } catch { /* not JSON */ }
    }
  }
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine)
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine)
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, lines, entries, exited }
}

/** Waits for a JSON log line with this `msg` (and matching `where`), returning it. */
export function waitForEntry(p: SpawnedProcess, msg: string, where: (e: Record<string, unknown>) => boolean = () => true, deadlineMs = 10_000): Promise<Record<string, unknown>> {
  return waitFor(() => p.entries.find((e) => e.msg === msg && where(e)), `log line "${msg}"\n${p.lines.slice(-10).join('\n')}`, deadlineMs)
}

export async function stopProcess(p: SpawnedProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal)
  return p.exited
}

/** A TCP port that was free a moment ago (for a hub that must come back on the same port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}
