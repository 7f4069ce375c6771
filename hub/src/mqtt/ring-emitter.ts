import type mqemitter from 'mqemitter'
import type { Logger } from '../base/log.js'
import { isLocalTopic } from '../ring/keys.js'
import { BACKLOG_LIMIT, type Delivery, type LocalDelivery, type Router } from '../routing/router.js'
import { isStoreFailure } from '../store/store-failure.js'
import { brokerPacket, payloadBytes, type PacketLike } from '../store/packet-codec.js'
import type { RoutedPersistence } from './routed-persistence.js'

type MQEmitter = mqemitter.MQEmitter
type Message = mqemitter.Message
type Callback = (error?: Error) => void
type Listener = (message: Message, done: () => void) => void

/** Marks a packet that came from the ring's delivery path: it goes to local subscribers only. */
const DELIVERED = Symbol('ringhub.delivered')

/**
 * aedes' message bus in a ring (the extension point aedes clusters use, like mqemitter-redis):
 * - `emit` of a routed topic (not `$`) publishes through the router: the key's owner numbers and
 *   commits it before the callback runs, so aedes sends PUBACK only then (invariant 3), and the
 *   message comes back to local subscribers through `deliver`, in owner order.
 * - `on` / `removeListener` keep aedes' local subscriptions and tell the router about interest.
 * - `deliver` hands a sequenced message to this hub's clients: persistent sessions' queues first
 *   (as aedes' own pipeline does), then the local bus.
 * Before `attach` (hub start-up) it is the plain local bus.
 */
export class RingEmitter {
  #router: Router | undefined
  #persistence: RoutedPersistence | undefined
  #emitChain: Promise<void> = Promise.resolve()
  /** Deliveries not yet handed to every matching live client. */
  #backlog = 0
  /** Deliveries waiting in `#emitChain` (a QoS 0 one may skip the chain only when it is empty). */
  #chained = 0
  readonly #drainWaiters: Array<() => void> = []
  readonly #idleWaiters: Array<() => void> = []

  constructor(private readonly inner: MQEmitter, private readonly log: Logger) {}

  /** The aedes-facing object (the MQEmitter interface aedes calls). */
  get mq(): MQEmitter {
    // aedes needs on/removeListener/emit/close; the rest of MQEmitter it never touches.
    return this as unknown as MQEmitter
  }

  attach(deps: { router: Router, persistence: RoutedPersistence }): void {
    this.#router = deps.router
    this.#persistence = deps.persistence
  }

  /** aedes sends SUBACK after `callback`: by then the ring knows of the subscription. */
  on(topic: string, listener: Listener, callback: () => void = noop): this {
    const router = this.#router
    if (!router) {
      this.inner.on(topic, listener, callback)
      return this
    }
    this.inner.on(topic, listener, () => { void router.subscribe(topic).then(callback) })
    return this
  }

  removeListener(topic: string, listener: Listener, callback: () => void = noop): this {
    this.inner.removeListener(topic, listener, callback)
    void this.#router?.unsubscribe(topic)
    return this
  }

  emit(packet: Message, callback: Callback = noop): this {
    const router = this.#router
    const topic = packet.topic as string
    if (!router || (packet as Record<symbol, unknown>)[DELIVERED] === true) {
      this.inner.emit(packet, callback)
      return this
    }
    if (isLocalTopic(topic)) {
      // A `$` topic stays here; with a ring aedes leaves its retained message to us.
      const persistence = this.#persistence
      if (packet.retain !== true || !persistence) this.inner.emit(packet, callback)
      else persistence.storeRetained(packet as never).then(() => this.inner.emit(packet, callback), callback)
      return this
    }
    const payload = payloadBytes(packet.payload as Buffer | string | undefined)
    router.publish({ topic, payload, qos: (packet.qos ?? 0) as 0 | 1 | 2, retain: packet.retain === true }).then(
      () => callback(),
      (err: unknown) => {
        // A store failure is logged once by the store (HubDb), not once per publish.
        this.log[isStoreFailure(err) ? 'debug' : 'warn']({ err, topic }, 'publish not acknowledged by the key owner')
        callback(err instanceof Error ? err : new Error(String(err)))
      },
    )
    return this
  }

  /**
   * A sequenced message for this hub's subscribers (router → aedes). `queued` (QoS 1/2 only)
   * resolves once the persistent sessions' queues hold it (committed): what an acknowledgement
   * must wait for. `backlog` counts deliveries not yet handed to every matching live client, and
   * `drained()` resolves once that is down to half of `LocalDelivery.BACKLOG_LIMIT` again: what
   * back-pressure waits for. Emits start in arrival order; one does not wait for the previous,
   * and with nothing ahead of it a QoS 0 message is emitted at once (allocating no promise).
   */
  deliver(d: Delivery): LocalDelivery {
    const persistence = this.#persistence
    // Numbered as the ring numbers it: aedes sends a client a message only if its counter is
    // above the last one it got for that brokerId, so a copy delivered twice (a retried forward,
    // a session queue handed over from another hub) reaches each client once, in key order.
    const packet = ringPacket(d) as unknown as Message
    ;(packet as Record<symbol, unknown>)[DELIVERED] = true
    this.#backlog++
    if (d.qos === 0 || !persistence) {
      if (this.#chained === 0) this.inner.emit(packet, this.#handedOver)
      else this.#chain(undefined, packet, d.topic)
      return { queued: undefined, backlog: this.#backlog, drained: this.#drained }
    }
    // Persistent sessions' queues are filled before the live delivery, as in aedes' own
    // pipeline (enqueueOffline, then emit).
    const queued = persistence.subscriptionsHere(d.topic).then(async (subs) => { if (subs.length > 0) await persistence.outgoingEnqueueCombi(subs, packet as never) })
    this.#chain(queued, packet, d.topic)
    return { queued, backlog: this.#backlog, drained: this.#drained }
  }

  /** Emits `packet` after everything chained before it, and after `queued` if given. */
  #chain(queued: Promise<void> | undefined, packet: Message, topic: string): void {
    this.#chained++
    const emit = (): void => {
      this.#chained--
      this.inner.emit(packet, this.#handedOver)
    }
    this.#emitChain = (queued ? this.#emitChain.then(() => queued) : this.#emitChain).then(emit, (err: unknown) => {
      this.log.error({ err, topic }, 'queueing for persistent sessions failed; delivering live only')
      emit()
    })
  }

  readonly #handedOver = (): void => {
    this.#backlog--
    if (this.#backlog <= BACKLOG_LIMIT / 2 && this.#drainWaiters.length > 0) for (const w of this.#drainWaiters.splice(0)) w()
    if (this.#backlog === 0 && this.#idleWaiters.length > 0) for (const w of this.#idleWaiters.splice(0)) w()
  }

  readonly #drained = (): Promise<void> => {
    if (this.#backlog <= BACKLOG_LIMIT / 2) return Promise.resolve()
    return new Promise((resolve) => { this.#drainWaiters.push(resolve) })
  }

  /** Resolves once every local delivery started so far has been handed to its clients (a
   *  graceful stop waits for it before closing connections, so the wills it published arrive). */
  idle(): Promise<void> {
    if (this.#backlog === 0) return Promise.resolve()
    return new Promise((resolve) => { this.#idleWaiters.push(resolve) })
  }

  close(callback: () => void): void {
    this.inner.close(callback)
  }
}

function noop(): void {}

/** A ring delivery as aedes packet: `brokerId` `key@epoch`, `brokerCounter` the seq (from 1). */
function ringPacket(d: Delivery): PacketLike {
  return brokerPacket({ cmd: 'publish', topic: d.topic, payload: d.payload, qos: d.qos, retain: false, brokerId: `${d.key}@${d.epoch}`, brokerCounter: d.seq }, NO_BROKER)
}

/** brokerPacket's numbering is unused: every ring packet brings its own. */
const NO_BROKER = { id: 'ring', counter: 0 }
