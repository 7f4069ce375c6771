/**
 * Export of a topic's history (the Topics view's download): JSON lines, one `TopicMessage` per
 * line as the API sends it, or CSV (RFC 4180: comma, CRLF, quotes doubled) with an ISO time
 * column for spreadsheets. Messages that came live over a channel have no QoS (the channel does
 * not send it: the line has no `qos`, the CSV cell is empty), their time is when the UI got them,
 * and their JSON line says `"live": "channel"`. Pure, no DOM.
 */
import type { ShownMessage } from './live-messages.js'

export function toJsonLines(messages: readonly ShownMessage[]): string {
  return messages.map((m) => JSON.stringify(m)).join('\n') + (messages.length > 0 ? '\n' : '')
}

const CSV_COLUMNS = ['time', 'tsMs', 'topic', 'epoch', 'seq', 'qos', 'retain', 'encoding', 'payload'] as const

export function toCsv(messages: readonly ShownMessage[]): string {
  const rows = messages.map((m) => [new Date(m.tsMs).toISOString(), m.tsMs, m.topic, m.epoch, m.seq, m.qos ?? '', m.retain, m.encoding, m.payload].map(csvField).join(','))
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n'
}

/**
 * One CSV field, quoted when it holds a comma, quote, CR or LF [RFC 4180 §2.6-7]. A text field
 * that starts with `=`, `+`, `-` or `@` gets a leading `'` so a spreadsheet shows it rather than
 * running it as a formula (payloads are device input; OWASP "CSV injection").
 */
export function csvField(value: string | number | boolean): string {
  let s = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** A file name for a topic's export: levels joined by `_`, unsafe characters dropped. */
export function exportFileName(topic: string, ext: 'jsonl' | 'csv'): string {
  return `${topic.replace(/\//g, '_').replace(/[^\w.-]+/g, '') || 'topic'}.${ext}`
}
