/** Faults the simulated firmware injects on request (docs/simulator.md "Faults"). */
export type Fault =
  /** Random bytes (newlines included, as line noise would have them). */
  | { kind: 'noise', bytes: number }
  /** One line of `bytes` printable junk before its newline: longer than any frame. */
  | { kind: 'garbage', bytes: number }
  /** Half a telemetry frame, then silence: a device reset mid-line. */
  | { kind: 'partial' }
  /** `count` telemetry frames at once. */
  | { kind: 'burst', count: number }
  /** No answers to commands for `ms` (telemetry goes on): a hung command handler. */
  | { kind: 'mute', ms: number }
  /** No telemetry for `ms` (a partial line before it is left hanging). */
  | { kind: 'silence', ms: number }
  /** The firmware closes its end of the line for `ms`, then opens it again. */
  | { kind: 'disconnect', ms: number }

const KINDS = ['noise', 'garbage', 'partial', 'burst', 'mute', 'silence', 'disconnect'] as const

/** `noise 500`, `burst 1000`, `partial`, `mute 3000`: a control line or a command name + number. */
export function parseFault(kind: string, amount: number | undefined): Fault | undefined {
  if (!(KINDS as readonly string[]).includes(kind)) return undefined
  const n = amount ?? (kind === 'noise' ? 256 : kind === 'garbage' ? 1_048_576 : kind === 'burst' ? 100 : 2000)
  if (!Number.isSafeInteger(n) || n < 0 || n > 64 * 1024 * 1024) return undefined
  switch (kind as typeof KINDS[number]) {
    case 'noise': return { kind: 'noise', bytes: n }
    case 'garbage': return { kind: 'garbage', bytes: n }
    case 'partial': return { kind: 'partial' }
    case 'burst': return { kind: 'burst', count: n }
    case 'mute': return { kind: 'mute', ms: n }
    case 'silence': return { kind: 'silence', ms: n }
    case 'disconnect': return { kind: 'disconnect', ms: n }
  }
}
