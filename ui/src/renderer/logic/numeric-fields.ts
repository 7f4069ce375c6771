/**
 * Numeric fields of a JSON payload, for the Topics view's chart: every number leaf by path
 * (`temp`, `a.b[0]`), and a bare number payload as `(value)`. Pure, no DOM.
 */
import { parseJson } from './json-diff.js'

/** Number leaves of `payload` (at most `limit`, depth-first), path → value. */
export function numericFields(payload: string, limit = 50): Map<string, number> {
  const out = new Map<string, number>()
  const parsed = parseJson(payload)
  if (!parsed) return out
  const walk = (v: unknown, path: string): void => {
    if (out.size >= limit) return
    if (typeof v === 'number' && Number.isFinite(v)) out.set(path === '' ? '(value)' : path, v)
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`))
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`)
  }
  walk(parsed.value, '')
  return out
}
