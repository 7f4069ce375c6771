import { NAME_PATTERN } from './frames.js'

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

/** A value of the key=value dialect: a number when it reads as one, a boolean, else the text. */
function value(text: string): number | boolean | string {
  if (NUMBER.test(text)) return Number(text)
  if (text === 'true') return true
  if (text === 'false') return false
  return text
}

/**
 * The key=value telemetry dialect for the simplest firmware (docs/serial-protocol.md):
 * `temp=21.5 hum=40` — pairs separated by spaces, tabs, commas or semicolons.
 */
export function parseKeyValueLine(text: string): { readings: Record<string, number | boolean | string> } | { error: string } {
  // No prototype: a reading named __proto__ is just a reading.
  const readings = Object.create(null) as Record<string, number | boolean | string>
  let count = 0
  for (const token of text.split(/[\s,;]+/)) {
    if (token === '') continue
    const eq = token.indexOf('=')
    if (eq <= 0 || eq === token.length - 1) return { error: `"${token.slice(0, 40)}" is not key=value` }
    const key = token.slice(0, eq)
    if (!NAME_PATTERN.test(key)) return { error: `bad name "${key.slice(0, 40)}"` }
    if (!(key in readings)) count++
    readings[key] = value(token.slice(eq + 1))
  }
  if (count === 0) return { error: 'no pairs' }
  return { readings }
}
