import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** `ringhub bench`: runs the benchmark suite (bench/dist/run.js) with the given arguments. */
export function runBench(argv: readonly string[]): Promise<number> {
  const script = fileURLToPath(new URL('../../../bench/dist/run.js', import.meta.url))
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...argv], { stdio: 'inherit' })
    child.on('exit', (code) => resolve(code ?? 1))
  })
}
