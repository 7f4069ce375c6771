import { OPTIONS, envName } from './options.js'

/** The options table of docs/configuration.md; a test keeps the doc equal to this. */
export function renderOptionsTable(): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|')
  const rows = OPTIONS.map((o) => {
    const type = o.type === 'enum' ? (o.values ?? []).join(' \\| ') : o.type === 'int' ? `int ${o.min}–${o.max}` : o.type
    return `| \`${o.key}\` | \`${o.flag}\` | \`${envName(o.key)}\` | ${type} | ${escape(o.defaultText)} | ${escape(o.doc)} |`
  })
  return ['| YAML key | flag | environment | type | default | meaning |', '|---|---|---|---|---|---|', ...rows].join('\n')
}
