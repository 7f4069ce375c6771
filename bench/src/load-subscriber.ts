import { MqttClient } from './mqtt-client.js'
import { readPublish, writePuback } from './mqtt-frames.js'
import type { SubscriberSpec } from './ipc-protocol.js'

/** Counts the PUBLISHes it receives; at QoS 1 it PUBACKs them, one write per received chunk. */
export class Subscriber {
  received = 0
  #client: MqttClient | undefined
  #acks: number[] = []

  constructor(private readonly spec: SubscriberSpec) {}

  get client(): MqttClient | undefined { return this.#client }

  /** This client's own broker port, if the spec names one. */
  get port(): number | undefined { return this.spec.port }

  async connect(host: string, port: number, timeoutMs: number): Promise<void> {
    this.#client = await MqttClient.connect({
      host, port, clientId: this.spec.clientId, keepaliveS: 0,
      onPublish: (buf, start, bodyStart) => {
        this.received++
        const { qos, messageId } = readPublish(buf, start, bodyStart)
        if (qos > 0) this.#acks.push(messageId)
      },
      onChunkEnd: () => this.#flushAcks(),
    }, timeoutMs)
    await this.#client.subscribe(this.spec.filter, this.spec.qos, timeoutMs)
  }

  #flushAcks(): void {
    if (this.#acks.length === 0) return
    const out = Buffer.allocUnsafe(this.#acks.length * 4)
    this.#acks.forEach((id, i) => writePuback(out, i * 4, id))
    this.#acks = []
    this.#client?.socket.write(out)
  }
}
