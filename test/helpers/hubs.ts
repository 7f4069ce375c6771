import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Hub } from '../../hub/src/hub.js'
import { loadConfig } from '../../hub/src/config/load.js'
import type { HubConfig } from '../../hub/src/config/options.js'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { HubMetrics } from '../../hub/src/metrics/hub-metrics.js'
import { oneRing } from './admin.js'
import { waitFor } from './wait.js'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix = 'ringhub-test-'): { path: string, remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Config for a loopback hub on ephemeral ports. */
export function testConfig(data: string, overrides: Partial<HubConfig> = {}): HubConfig {
  return loadConfig({
    overrides: { id: 'h1', host: '127.0.0.1', mqtt: 0, admin: 0, gossip: 0, interHub: 0, data, logLevel: 'silent', sysIntervalMs: 0, ...overrides },
  })
}

/** An in-process hub on ephemeral loopback ports with its own metrics registry. */
export async function startHub(data: string, overrides: Partial<HubConfig> = {}): Promise<Hub> {
  return Hub.start({ config: testConfig(data, overrides), clock: systemClock, log: silentLogger(), metrics: new HubMetrics() })
}

/**
 * Hubs in this process (anonymous, `edge`), each on its own sockets and data directory, the
 * others joining the first; resolves once all see one ring. `stop` stops them and removes their data.
 * `overrides` apply to every hub.
 */
export async function startRing(ids: readonly string[], overrides: Partial<HubConfig> = {}): Promise<{ hub: (id: string) => Hub, stop: () => Promise<void> }> {
  const dirs = ids.map(() => tempDir())
  const hubs = new Map<string, Hub>()
  const hub = (id: string): Hub => hubs.get(id) as Hub
  const stop = async (): Promise<void> => {
    await Promise.all([...hubs.values()].map((h) => h.stop()))
    for (const d of dirs) d.remove()
  }
  try {
    for (const [i, id] of ids.entries()) {
      const join = i === 0 ? [] : [`127.0.0.1:${hub(ids[0] as string).ports.gossip}`]
      hubs.set(id, await startHub((dirs[i] as { path: string }).path, { id, allowAnonymous: true, profile: 'edge', join, ...overrides }))
    }
    await waitFor(() => oneRing(ids.map((id) => hub(id).cluster.view()), ids), `one ring of ${ids.length}`, 10_000, 20)
  } catch (err) {
    await stop()
    throw err
  }
  return { hub, stop }
}

export interface SpawnedHub {
  child: ChildProcess
  ports: { mqtt: number, admin: number, mqtts: number | null, gossip: number }
  /** Everything the hub printed on stdout and stderr. */
  output: string[]
  /** Resolves with the exit code or signal once the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Runs `ringhub hub` as a real process (the built CLI) and waits for its "hub started" line. */
export async function spawnHub(args: readonly string[], opts: { env?: NodeJS.ProcessEnv, deadlineMs?: number, wrap?: readonly string[] } = {}): Promise<SpawnedHub> {
  const deadlineMs = opts.deadlineMs ?? 15_000
  // `wrap` runs it through another program that execs it (`ip netns exec NS`), same pid.
  const [command, ...prefix] = [...(opts.wrap ?? []), process.execPath]
  const child = spawn(command as string, [...prefix, join(REPO_ROOT, 'bin/ringhub.js'), 'hub', '--host', '127.0.0.1', '--mqtt', '0', '--admin', '0', '--gossip', '0', '--inter-hub', '0', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RINGHUB_SYS_INTERVAL_MS: '0', ...opts.env },
  })
  const output: string[] = []
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => output.push(l))
  const ports = await new Promise<SpawnedHub['ports']>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hub did not start within ${deadlineMs} ms:\n${output.join('\n')}`)) }, deadlineMs)
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      output.push(line)
      try {
        const entry = JSON.parse(line) as { msg?: string, ports?: SpawnedHub['ports'] }
        if (entry.msg === 'hub started' && entry.ports) { clearTimeout(timer); resolve(entry.ports) }
      } catch { /* not JSON */ }
    })
    void exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`hub exited (${code ?? signal}) before starting:\n${output.join('\n')}`)) })
  })
  return { child, ports, output, exited }
}

/** Stops a spawned hub: SIGTERM (graceful) by default, or SIGKILL. */
export async function stopHub(hub: SpawnedHub, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill(signal)
  return hub.exited
}
