import type { DeviceFrame } from '../protocol/frames.js'
import type { NewMessage } from '../outbox/outbox.js'

/** The topics of one device (docs/agent.md "Topics"). */
export function deviceTopics(device: string) {
  const base = `devices/${device}`
  return {
    telemetry: (name: string) => `${base}/telemetry/${name}`,
    state: `${base}/state`,
    event: (name: string) => `${base}/event/${name}`,
    info: `${base}/info`,
    status: `${base}/status`,
    commands: `${base}/cmd/+`,
    commandPrefix: `${base}/cmd/`,
    response: (name: string) => `${base}/cmd/${name}/res`,
  }
}

/** Availability payloads on `devices/<id>/status` (retained), as Home Assistant and Tasmota use. */
export const ONLINE = Buffer.from('online')
export const OFFLINE = Buffer.from('offline')

/**
 * The JSON envelope of every message the agent publishes (but status): `(device, seq)` is the
 * duplicate-detection key for hubs (seq is per device, strictly increasing, never reused), `ts`
 * the agent's receive time in ms since the epoch, `fseq` the firmware's own counter when it sent one.
 */
export function envelope(device: string, seq: number, ts: number, body: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify({ device, seq, ts, ...body }))
}

/** A device frame → the messages it becomes (responses are handled by the command table). */
export function frameMessages(frame: DeviceFrame, device: string, ts: number): NewMessage[] {
  const t = deviceTopics(device)
  const fseq = frame.seq !== undefined ? { fseq: frame.seq } : {}
  const one = (topic: string, retain: boolean, value: unknown): NewMessage => ({
    device, topic, retain, build: (seq) => envelope(device, seq, ts, { value, ...fseq }),
  })
  switch (frame.type) {
    case 'telemetry': return Object.entries(frame.payload).map(([name, value]) => one(t.telemetry(name), false, value))
    case 'state': return [one(t.state, true, frame.payload)]
    case 'event': return [one(t.event(frame.name), false, frame.payload)]
    case 'hello': return [one(t.info, true, frame.payload)]
    case 'response': return []
  }
}
