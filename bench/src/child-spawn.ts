import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { ChildChannel } from './child-channel.js'

/**
 * Every child the runner starts, and the temporary files they use, so that any exit path
 * (normal end, error, Ctrl-C, watchdog) can kill the ones still running — by their own handles,
 * never by name — and remove what they leave behind.
 */
export class ChildRegistry {
  readonly #children = new Set<ChildChannel<{ type: string }, { type: string }>>()
  readonly #cleanups = new Set<() => void>()

  add(channel: ChildChannel<{ type: string }, { type: string }>): void {
    this.#children.add(channel)
    void channel.exited.then(() => this.#children.delete(channel))
  }

  /** Registers a synchronous cleanup for killAll(); returns a function that unregisters it. */
  addCleanup(cleanup: () => void): () => void {
    this.#cleanups.add(cleanup)
    return () => { this.#cleanups.delete(cleanup) }
  }

  get running(): number { return this.#children.size }

  /** SIGKILLs every child still running, then runs the pending cleanups. Safe in an 'exit' handler. */
  killAll(): void {
    for (const channel of this.#children) channel.kill()
    for (const cleanup of this.#cleanups) {
      try {
        cleanup()
      } catch {
        // best effort on the way out
      }
    }
    this.#cleanups.clear()
  }
}

export interface SpawnSpec {
  name: string
  /** Compiled script next to this file, e.g. 'load-worker.js'. */
  script: string
  args?: readonly string[]
  nodeFlags?: readonly string[]
  /** File descriptors the child needs; raises `ulimit -n` through bash when the current soft limit is lower. */
  fds?: number
  /** Where the child's stdout/stderr lines go (prefixed with its name). */
  output: (line: string) => void
}

/** Starts a Node child with an IPC channel (like fork), optionally under a raised fd limit. */
export function spawnChild<Req extends { type: string }, Rep extends { type: string }>(registry: ChildRegistry, spec: SpawnSpec): ChildChannel<Req, Rep> {
  const script = fileURLToPath(new URL(spec.script, import.meta.url))
  const nodeArgs = [...(spec.nodeFlags ?? []), script, ...(spec.args ?? [])]
  const needed = spec.fds ?? 0
  const { soft, hard } = fdLimits()
  if (needed > hard) {
    throw new Error(`${spec.name} needs ${needed} file descriptors but the hard limit (ulimit -Hn) is ${hard}; raise it or use fewer --idle-connections`)
  }
  const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc']
  // Node cannot call setrlimit itself; bash's ulimit raises the soft limit (up to the hard one)
  // and `exec` keeps the same pid and the IPC descriptor (fd 3, NODE_CHANNEL_FD) for node.
  const child = needed > soft
    ? spawn('bash', ['-c', `ulimit -n ${needed} && exec "$0" "$@"`, process.execPath, ...nodeArgs], { stdio })
    : spawn(process.execPath, nodeArgs, { stdio })
  for (const stream of [child.stdout, child.stderr]) forwardLines(stream, (line) => spec.output(`[${spec.name}] ${line}`))
  const channel = new ChildChannel<Req, Rep>(spec.name, child)
  registry.add(channel)
  return channel
}

function forwardLines(stream: Readable | null, output: (line: string) => void): void {
  if (!stream) return
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', output)
}

/** This process's RLIMIT_NOFILE (children inherit it); Infinity where /proc is missing. */
export function fdLimits(): { soft: number, hard: number } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const [, soft, hard] = line?.split(/\s{2,}/) ?? []
    const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Infinity : Number(v))
    return { soft: parse(soft), hard: parse(hard) }
  } catch {
    return { soft: Infinity, hard: Infinity }
  }
}
