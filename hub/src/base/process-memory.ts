import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** One look at the process's memory. */
export interface MemorySample {
  /** Resident set size, bytes. */
  rssBytes: number
  /**
   * Bytes of the JavaScript heap that are resident but free (heap total − heap used). V8 keeps
   * heap it grew under load and fills it again before it asks the OS for more, so this much of
   * RSS can be allocated again without RSS growing.
   */
  heapFreeBytes: number
}

/** The process's memory as the overload protection sees it (overload-governor.ts). */
export interface ProcessMemory {
  sample(): MemorySample
  /** Collects garbage now and gives what it can back to the OS, if the runtime allows it. */
  reclaim(): void
  /**
   * Has the runtime start a full collection once its old space has grown `percent` past what the
   * last one left live (V8's `--heap-growing-percent`, which V8 reads whenever it sets the next
   * limit, so setting it at run time works, unlike the heap size limit).
   */
  boundHeapGrowth(percent: number): void
}

type Gc = () => void

/**
 * The real process's memory. `process.memoryUsage()` reads RSS and the heap's totals (no heap
 * walk), cheap enough every 100 ms. A GC on demand needs `gc()`, which Node only exposes with
 * --expose-gc: the flag is set at run time and the function taken from a fresh context (the way
 * to get it without changing how the process is started); done on first use, so only a hub with
 * a cap does it. Called without options: on Node 20 (V8 11.3) `gc({ type: 'major', execution:
 * 'sync', flavor: 'last-resort' })`, which this called until 2026-11-24, or any options object,
 * collects nothing of the old space (a heap of 400 MB, 90 % garbage: 399 MB used after it,
 * 11 ms; after `gc()`, 40 MB, 90 ms). A full collection frees the garbage for V8; it gives the
 * pages back to the OS only gradually (RSS follows over a second or so).
 */
export function processMemory(): ProcessMemory {
  let gc: Gc | undefined
  return {
    sample: () => {
      const m = process.memoryUsage()
      return { rssBytes: m.rss, heapFreeBytes: Math.max(0, m.heapTotal - m.heapUsed) }
    },
    reclaim: () => {
      if (gc === undefined) {
        setFlagsFromString('--expose-gc')
        gc = runInNewContext('gc') as Gc
      }
      gc()
    },
    boundHeapGrowth: (percent) => { setFlagsFromString(`--heap-growing-percent=${Math.max(1, Math.round(percent))}`) },
  }
}
