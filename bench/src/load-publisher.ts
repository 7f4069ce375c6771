import { MqttClient } from './mqtt-client.js'
import { publishTemplate, type PublishTemplate } from './mqtt-frames.js'
import type { PublisherSpec } from './ipc-protocol.js'

/** QoS 0 messages per write: one template copied this many times (fewer, larger writes). */
const QOS0_BATCH = 64
/** QoS 0 writes per event-loop turn at most, so IPC and this worker's other sockets get served. */
const QOS0_WRITES_PER_TURN = 16

/**
 * Publishes as fast as the broker takes them. QoS 0: closed loop on socket back-pressure (aedes
 * reads the next packet only after it has written the last one, so a full socket means a busy
 * broker). QoS 1: a window of PUBLISHes awaiting PUBACK, topped up after every received chunk.
 */
export class Publisher {
  sent = 0
  acked = 0
  #client: MqttClient | undefined
  #running = false
  #inflight = 0
  #nextId = 1
  readonly #template: PublishTemplate
  readonly #qos0Batch: Buffer

  constructor(private readonly spec: PublisherSpec) {
    this.#template = publishTemplate(spec.topic, spec.qos, spec.payloadBytes)
    this.#qos0Batch = Buffer.concat(Array.from({ length: QOS0_BATCH }, () => this.#template.bytes))
  }

  get client(): MqttClient | undefined { return this.#client }

  /** This client's own broker port, if the spec names one. */
  get port(): number | undefined { return this.spec.port }

  async connect(host: string, port: number, timeoutMs: number): Promise<void> {
    this.#client = await MqttClient.connect({
      host, port, clientId: this.spec.clientId, keepaliveS: 0,
      onPuback: () => { this.#inflight--; this.acked++ },
      onChunkEnd: () => this.#topUp(),
    }, timeoutMs)
  }

  start(): void {
    this.#running = true
    if (this.spec.qos === 0) this.#pump()
    else this.#topUp()
  }

  stop(): void { this.#running = false }

  /** Stops and aborts the connection, so its unread backlog is dropped rather than delivered. */
  abort(): void {
    this.stop()
    this.#client?.reset()
  }

  readonly #pump = (): void => {
    const socket = this.#client?.socket
    if (!this.#running || !socket || socket.destroyed) return
    for (let i = 0; i < QOS0_WRITES_PER_TURN; i++) {
      this.sent += QOS0_BATCH
      // The batch is never modified, so handing the same Buffer to every write is safe.
      if (!socket.write(this.#qos0Batch)) { socket.once('drain', this.#pump); return }
    }
    setImmediate(this.#pump)
  }

  #topUp(): void {
    const socket = this.#client?.socket
    const count = this.spec.window - this.#inflight
    if (!this.#running || this.spec.qos === 0 || count <= 0 || !socket || socket.destroyed) return
    const { bytes, messageIdOffset } = this.#template
    const out = Buffer.allocUnsafe(count * bytes.length)
    for (let i = 0; i < count; i++) {
      bytes.copy(out, i * bytes.length)
      out.writeUInt16BE(this.#nextId, i * bytes.length + messageIdOffset)
      this.#nextId = this.#nextId === 0xffff ? 1 : this.#nextId + 1 // 0 is not a valid packet id [MQTT-2.3.1-1]
    }
    this.#inflight += count
    this.sent += count
    socket.write(out)
  }
}
