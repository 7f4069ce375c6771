import { MqttClient } from './mqtt-client.js'
import { publishTemplate, readPublish, writePuback } from './mqtt-frames.js'
import type { LatencyResult, LatencySpec } from './ipc-protocol.js'
import { percentile } from './stats.js'

/** Time allowed after the last send for the last messages to arrive. */
const DRAIN_MS = 3000
/** Sender timer period. Node timers fire no finer than ~1 ms; each tick sends what is due. */
const TICK_MS = 1

/**
 * Publish→receive latency at a fixed QoS 1 rate, publisher and subscriber in this one process so
 * both timestamps come from the same monotonic clock (performance.now()).
 *
 * Each message carries the time it was *scheduled* to be sent, not the time it was written: a
 * stall (in the broker, or in this process) delays every message due during it, and stamping the
 * actual write time would hide that (coordinated omission). `maxSendLagMs` shows how much of a
 * stall was the generator's own timer.
 */
export async function measureLatency(host: string, port: number, spec: LatencySpec, timeoutMs: number): Promise<LatencyResult> {
  const intervalMs = 1000 / spec.ratePerS
  const total = Math.round(spec.ratePerS * (spec.warmupMs + spec.durationMs) / 1000)
  const samples = new Float64Array(total)
  let sampleCount = 0
  let received = 0
  let measureFromMs = Infinity
  let acks: number[] = []
  let allReceived: () => void = () => undefined
  const done = new Promise<void>((resolve) => { allReceived = resolve })

  const sub = await MqttClient.connect({
    host, port: spec.subscribePort ?? port, clientId: `${spec.clientIdPrefix}-sub`, keepaliveS: 0,
    onPublish: (buf, start, bodyStart) => {
      const now = performance.now()
      const { messageId, payloadStart } = readPublish(buf, start, bodyStart)
      acks.push(messageId)
      const scheduledMs = buf.readDoubleLE(payloadStart)
      if (scheduledMs >= measureFromMs) samples[sampleCount++] = now - scheduledMs
      if (++received === total) allReceived()
    },
    onChunkEnd: () => {
      if (acks.length === 0) return
      const out = Buffer.allocUnsafe(acks.length * 4)
      acks.forEach((id, i) => writePuback(out, i * 4, id))
      acks = []
      sub.socket.write(out)
    },
  }, timeoutMs)
  let inflight = 0
  const pub = await MqttClient.connect({
    host, port, clientId: `${spec.clientIdPrefix}-pub`, keepaliveS: 0, onPuback: () => { inflight-- },
  }, timeoutMs)
  try {
    await sub.subscribe(spec.topic, 1, timeoutMs)
    const template = publishTemplate(spec.topic, 1, Math.max(8, spec.payloadBytes))
    const size = template.bytes.length
    let sent = 0
    let nextId = 1
    let maxInflight = 0
    let maxSendLagMs = 0
    const startMs = performance.now()
    measureFromMs = startMs + spec.warmupMs

    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now()
        const due = Math.min(total, Math.floor((now - startMs) / intervalMs) + 1)
        const count = due - sent
        if (count > 0) {
          const firstDueMs = startMs + sent * intervalMs
          if (firstDueMs >= measureFromMs) maxSendLagMs = Math.max(maxSendLagMs, now - firstDueMs)
          const out = Buffer.allocUnsafe(count * size)
          for (let i = 0; i < count; i++) {
            template.bytes.copy(out, i * size)
            out.writeUInt16BE(nextId, i * size + template.messageIdOffset)
            out.writeDoubleLE(startMs + (sent + i) * intervalMs, i * size + template.payloadOffset)
            nextId = nextId === 0xffff ? 1 : nextId + 1
          }
          sent += count
          inflight += count
          maxInflight = Math.max(maxInflight, inflight)
          pub.socket.write(out)
        }
        if (sent < total && !pub.lostReason) setTimeout(tick, TICK_MS)
        else resolve()
      }
      tick()
    })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([done, new Promise<void>((resolve) => { timer = setTimeout(resolve, DRAIN_MS) })])
    clearTimeout(timer)

    const sorted = samples.slice(0, sampleCount).sort()
    return {
      type: 'latency',
      sent,
      received,
      samples: sampleCount,
      p50Ms: percentile(sorted, 50),
      p90Ms: percentile(sorted, 90),
      p99Ms: percentile(sorted, 99),
      p999Ms: percentile(sorted, 99.9),
      maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : NaN,
      meanMs: sorted.reduce((a, b) => a + b, 0) / sampleCount,
      maxInflight,
      maxSendLagMs,
      lost: [pub, sub].filter((c) => c.lostReason !== undefined).length,
    }
  } finally {
    await Promise.all([pub.close(), sub.close()])
  }
}
