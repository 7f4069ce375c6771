/**
 * What changed between two messages of a topic (the Topics view's diff): for JSON payloads, one
 * entry per changed leaf path (`a.b[2]`); for anything else, a line diff. Pure, no DOM.
 */

export type DiffEntry =
  | { kind: 'added', path: string, after: unknown }
  | { kind: 'removed', path: string, before: unknown }
  | { kind: 'changed', path: string, before: unknown, after: unknown }

/** Parses `text` as JSON, or undefined when it is not JSON (empty text is not). */
export function parseJson(text: string): { value: unknown } | undefined {
  if (!/^\s*[[{"\d\-tfn]/.test(text)) return undefined
  try {
    return { value: JSON.parse(text) as unknown }
  } catch {
    return undefined
  }
}

/** Leaf-level differences from `before` to `after`, in path order. */
export function jsonDiff(before: unknown, after: unknown, path = ''): DiffEntry[] {
  if (isContainer(before) && isContainer(after) && Array.isArray(before) === Array.isArray(after)) {
    const out: DiffEntry[] = []
    const b = before as Record<string, unknown>
    const a = after as Record<string, unknown>
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])]
    for (const k of keys) {
      const p = Array.isArray(after) ? `${path}[${k}]` : path === '' ? k : `${path}.${k}`
      const inB = Object.prototype.hasOwnProperty.call(b, k)
      const inA = Object.prototype.hasOwnProperty.call(a, k)
      if (!inA) out.push({ kind: 'removed', path: p, before: b[k] })
      else if (!inB) out.push({ kind: 'added', path: p, after: a[k] })
      else out.push(...jsonDiff(b[k], a[k], p))
    }
    return out
  }
  return sameJson(before, after) ? [] : [{ kind: 'changed', path: path === '' ? '(value)' : path, before, after }]
}

function isContainer(v: unknown): boolean {
  return typeof v === 'object' && v !== null
}

function sameJson(x: unknown, y: unknown): boolean {
  return JSON.stringify(x) === JSON.stringify(y)
}

export type LineOp = { op: 'same' | 'add' | 'del', line: string }

/** A line diff (longest common subsequence; inputs over 2000 lines compare as replaced whole). */
export function lineDiff(before: string, after: string): LineOp[] {
  const a = before.split('\n')
  const b = after.split('\n')
  if (a.length * b.length > 4_000_000) return [...a.map((line) => ({ op: 'del' as const, line })), ...b.map((line) => ({ op: 'add' as const, line }))]
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as Uint32Array
      row[j] = a[i] === b[j] ? (lcs[i + 1] as Uint32Array)[j + 1] as number + 1 : Math.max((lcs[i + 1] as Uint32Array)[j] as number, row[j + 1] as number)
    }
  }
  const ops: LineOp[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { ops.push({ op: 'same', line: a[i] as string }); i++; j++ } else if (((lcs[i + 1] as Uint32Array)[j] as number) >= ((lcs[i] as Uint32Array)[j + 1] as number)) ops.push({ op: 'del', line: a[i++] as string })
    else ops.push({ op: 'add', line: b[j++] as string })
  }
  while (i < a.length) ops.push({ op: 'del', line: a[i++] as string })
  while (j < b.length) ops.push({ op: 'add', line: b[j++] as string })
  return ops
}

/** The payload pretty-printed when it is JSON, else as is. */
export function prettyPayload(text: string): string {
  const parsed = parseJson(text)
  return parsed ? JSON.stringify(parsed.value, null, 2) : text
}
