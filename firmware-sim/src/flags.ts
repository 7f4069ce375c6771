import { ConfigError } from '../../device-agent/dist/base/errors.js'

export interface FlagSpec {
  /** `--interval-ms` etc. */
  flag: string
  kind: 'string' | 'int' | 'bool'
  doc: string
  default?: string
}

/** `--flag value`, `--flag=value` and bare boolean flags → values by flag name (without `--`). */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], command: string): Map<string, string | number | boolean> {
  const byFlag = new Map(specs.map((s) => [s.flag, s]))
  const out = new Map<string, string | number | boolean>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const spec = byFlag.get(flag)
    if (!spec) throw new ConfigError(flag, `unknown option (see ringhub ${command} --help)`)
    const name = flag.slice(2)
    if (spec.kind === 'bool') { out.set(name, eq > 0 ? arg.slice(eq + 1) === 'true' : true); continue }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new ConfigError(flag, 'needs a value')
    if (spec.kind === 'int') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new ConfigError(flag, `${JSON.stringify(value)} is not a non-negative integer`)
      out.set(name, Number(value))
    } else {
      out.set(name, value)
    }
  }
  return out
}

export function flagHelp(usage: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => `  ${(s.flag + (s.kind === 'bool' ? '' : s.kind === 'int' ? ' N' : ' VALUE')).padEnd(26)} ${s.doc}${s.default !== undefined ? ` (default ${s.default})` : ''}`)
  return `${usage}\n\n${rows.join('\n')}\n`
}
