import type { Clock } from '../base/clock.js'
import { TransportError } from '../base/errors.js'
import type { Offset } from '../store/topic-log.js'
import { ForwardOrder, type ForwardTicket } from './forward-order.js'
import type { PublishReply, PublishRequest } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import { ReplicaConfirmations } from './replica-confirmations.js'
import { NotOwnerError, RetryFirstError } from './sequencer.js'
import { TurnBatches } from './turn-batches.js'

export interface IngressMessage { topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean }

/**
 * Where a publish comes from: its ingress hub's run (`source`) and its place there (`n`, counted
 * as publishes enter, so a key's publishes of one run rise with their arrival order). A publish
 * id is `<source>:<n>`: an owner that gave a message's retry a later arrival than messages sent
 * after it still knows which came first (`RetryHolds`).
 */
export interface PublishOrigin { source: string, n: number }

/** The origin of a publish id; undefined when the id is not of that form. */
export function originOf(id: string): PublishOrigin | undefined {
  const colon = id.lastIndexOf(':')
  const digits = id.slice(colon + 1)
  if (colon <= 0 || !/^[0-9]{1,15}$/.test(digits)) return undefined
  return { source: id.slice(0, colon), n: Number(digits) }
}

export interface IngressDeps {
  self: string
  bus: Pick<PeerBus, 'request'>
  ownerOf(key: string): string | undefined
  /**
   * Numbers a message of a key this hub owns (the router's owner path); NotOwnerError when it no
   * longer does. `n`: the publish's place in this ingress run (`PublishOrigin`); `first`: the
   * place of the key's first publish of this run not finished yet (`PublishRequest.first`).
   */
  sequenceHere(key: string, message: IngressMessage, id: string | undefined, n: number, first: number): Promise<Offset>
  stats: { forwarded: number, forwardRetries: number }
  clock: Clock
  /** How long a publish keeps retrying (owner unreachable or moving), ms. */
  forwardTimeoutMs: number
  /** `ForwardOrderDeps.pausedMs`: the forward deadline leaves out time this process did not run. */
  pausedMs?: () => number
  /** Deadline of one request to a peer, and of the replicas' confirmations, ms. */
  requestTimeoutMs: number
}

const RETRY_MIN_MS = 25
const RETRY_MAX_MS = 1_000

/**
 * The ingress hub's side of a publish (DESIGN §2): straight to the sequencer when this hub owns
 * the key, else forwarded to the owner — the forwards of one event-loop turn to one owner in one
 * request — and acknowledged once the owner has answered and the replicas it named have confirmed
 * their copies here (`ReplicaConfirmations`). Retries while the owner is unreachable or ownership
 * moves, up to `forwardTimeoutMs`, keeping each key's publishes in arrival order (`ForwardOrder`);
 * a retried forward carries the same id, so an owner that numbered it already does not again.
 */
export class Ingress {
  readonly #order: ForwardOrder
  readonly #forwards: TurnBatches<Omit<PublishRequest, 't'>, PublishReply>
  readonly confirmations: ReplicaConfirmations
  /** This hub's run, as publish ids name it: `<hub>:<boot>` (ids of earlier runs differ). */
  readonly source: string
  /** Publishes entered in this run (`PublishOrigin.n`). */
  #entered = 0
  #stopped = false

  constructor(private readonly deps: IngressDeps) {
    this.#order = new ForwardOrder({ clock: deps.clock, pausedMs: deps.pausedMs, ownerOf: (key) => deps.ownerOf(key), minDelayMs: RETRY_MIN_MS, maxDelayMs: RETRY_MAX_MS })
    this.source = `${deps.self}:${deps.clock.now().toString(36)}`
    this.#forwards = new TurnBatches((owner, items) => deps.bus.request(owner, { t: 'publish-batch', items }, deps.requestTimeoutMs).then((reply) => {
      if (reply.t !== 'published-batch' || reply.results.length !== items.length) throw new TransportError('closed', `owner ${owner} answered a batch of ${items.length} with ${reply.t}`)
      return reply.results
    }))
    this.confirmations = new ReplicaConfirmations(deps.clock)
  }

  /** Publishes a message of `key`; resolves with its offset once it may be acknowledged. */
  async publish(key: string, message: IngressMessage): Promise<Offset> {
    const n = ++this.#entered
    const ticket = this.#order.enter(key, this.#order.now() + this.deps.forwardTimeoutMs, n)
    let ok = false
    try {
      const offset = await this.#publishInOrder(key, ticket, message, n)
      ok = true
      return offset
    } finally {
      this.#order.done(ticket, ok)
    }
  }

  /**
   * The ring changed: publishes waiting on a dead owner's replicas give up now, and publishes
   * waiting to retry go to the new owners at once. `alive`: this hub and its live peers.
   */
  ringChanged(alive: (hub: string) => boolean): void {
    this.confirmations.hubsGone(alive)
    this.#order.ringChanged()
  }

  stop(): void {
    this.#stopped = true
    this.confirmations.close()
    this.#order.close()
  }

  /** The id of this run's `n`-th publish (unique per ingress hub and run: the owner's window is far shorter than a restart). */
  idOf(n: number): string { return `${this.source}:${n}` }

  async #publishInOrder(key: string, ticket: ForwardTicket, message: IngressMessage, n: number): Promise<Offset> {
    let id: string | undefined // made on the first forward: the local path needs none
    for (let attempt = 0; ; attempt++) {
      const turn = this.#order.ready(ticket)
      if (turn) await turn
      if (attempt > 0) this.deps.stats.forwardRetries++
      const owner = this.deps.ownerOf(key)
      let failure: unknown
      if (owner === this.deps.self) {
        this.#order.sent(ticket, owner)
        try {
          return await this.deps.sequenceHere(key, message, id, n, this.#order.firstOf(ticket))
        } catch (err) {
          if (!(err instanceof NotOwnerError)) throw err
          // Kept a place (numbered with too few copies, or refused during a take-over): the retry
          // carries the id the owner knows it by.
          if (err instanceof RetryFirstError) id = err.id
          failure = err
        }
      } else if (owner !== undefined) {
        this.deps.stats.forwarded++
        id ??= this.idOf(n)
        const request = this.#forwards.add(owner, { id, ...message, first: this.#order.firstOf(ticket) })
        this.#order.sent(ticket, owner)
        try {
          const offset = await this.#acknowledged(id, owner, message.topic, await request)
          if (offset) return offset
          // Not its key any more, or it numbered the message but could not get enough copies.
          failure = `${owner} refused ${key} (not its key now, or too few copies)`
        } catch (err) {
          if (!(err instanceof TransportError)) throw err
          failure = err
        }
      }
      // The key backs off (25 ms, doubling to 1 s); its later publishes wait behind this one.
      if (this.#stopped || !this.#order.failed(ticket)) {
        throw new TransportError('timeout', `publish to ${message.topic}: no owner acknowledged within ${this.deps.forwardTimeoutMs} ms (last: ${describe(failure)})`)
      }
    }
  }

  /** The owner's answer, once the replicas it named have confirmed; undefined: not its key (retry). */
  async #acknowledged(id: string, owner: string, topic: string, reply: PublishReply): Promise<Offset | undefined> {
    if (reply.t === 'not-owner') return undefined
    if (reply.t === 'failed') throw new Error(`owner ${owner} failed the publish: ${reply.reason}`)
    const offset = { epoch: reply.epoch, seq: reply.seq }
    if (reply.confirmBy === undefined || reply.confirmBy.length === 0) return offset
    if (await this.confirmations.wait(id, owner, reply.confirmBy, this.deps.requestTimeoutMs)) return offset
    // A replica did not confirm (slow, dead, or the owner died before copying): the retry reaches
    // the owner, which recognises the id and answers once its replicas have, or the next owner,
    // which numbers it.
    throw new TransportError('timeout', `replicas ${reply.confirmBy.join(', ')} did not confirm ${topic} ${offset.epoch}:${offset.seq}`)
  }
}

function describe(failure: unknown): string {
  if (failure instanceof Error) return failure.message
  return typeof failure === 'string' ? failure : 'no owner'
}
