import type { Logger } from '../base/log.js'
import type { TopicLog } from '../store/topic-log.js'
import type { KeyStateReply, KeyStateRequest, TailEntry } from './messages.js'
import type { PeerBus } from './peer-bus.js'
import type { RetainedMessage, RetainedStore } from './router.js'
import { NotOwnerError, type Sequencer } from './sequencer.js'

/** What of a key's log travels with it to a new owner: at most this many entries and bytes. */
const TAIL_ENTRIES = 1_000
const TAIL_BYTES = 1024 * 1024

export interface KeyHandoffDeps {
  self: string
  bus: PeerBus
  ownerOf(key: string): string | undefined
  replicasOf(key: string, n: number): string[]
  replicationFactor: number
  sequencer: Sequencer
  topicLog: Pick<TopicLog, 'state' | 'noteEpoch' | 'appendReplica' | 'tail'>
  retained: RetainedStore
  log: Logger
  requestTimeoutMs: number
  stats: { handoffsSent: number, handoffsReceived: number }
  /**
   * Resolves once every message of `key` numbered here so far has been sent to the interested
   * hubs (its fan-out waits for its commit). A key's state is told only then: the deliveries go
   * ahead of the answer on the same link, so the new owner's subscribers have them before its first
   * message. (Told before, a restarted hub numbered its first message and handed it to its
   * subscriber, and the old owner's last one came in after it.)
   */
  fannedOut(key: string): Promise<void>
  /** Resolves once this hub knows which peers want which topics (see Router). */
  interestKnown(): Promise<void>
}

/**
 * Moving a key between owners (issue 4, item 6), so no `(epoch, seq)` is given twice and retained
 * messages and the log tail follow the key:
 * - `acquire`: before numbering its first message for a key, a hub asks the other hubs of the
 *   key's replica set (the previous owner after a join is now its successor; after a failure it
 *   was the dead owner's successor and holds the copies) for their epoch, retained messages and
 *   log tail, then starts a new epoch above all of them. Every one of them must answer; if one
 *   does not, nothing is numbered yet and the publish is retried (NotOwnerError).
 * - `handOffLost`: on an ownership change, a hub stops numbering every key it lost (fencing) and
 *   pushes each one's state to its new owner.
 */
export class KeyHandoff {
  /** Keys being taken over, by key: concurrent publishes wait on the same take-over. */
  readonly #acquiring = new Map<string, Promise<void>>()

  constructor(private readonly deps: KeyHandoffDeps) {}

  /** Resolves once this hub sequences `key` (publishes then append in their arrival order). */
  acquire(key: string): Promise<void> {
    const pending = this.#acquiring.get(key)
    if (pending) return pending
    const { deps } = this
    const others = deps.replicasOf(key, Math.max(2, deps.replicationFactor) + 1).filter((id) => id !== deps.self)
    const states = Promise.all(others.map(async (peer): Promise<KeyStateReply | undefined> => {
      const reply = await deps.bus.request(peer, { t: 'key-state', key, epoch: 0, seq: 0, retained: [] }, deps.requestTimeoutMs)
      return reply.t === 'key-state-reply' ? reply : undefined
    }))
    // Numbering starts only once the subscribers of every hub can be reached, too.
    const done = Promise.all([states, deps.interestKnown()]).then(async ([replies]) => {
      let known = 0
      for (const r of replies) {
        if (!r) continue
        known = Math.max(known, r.epoch)
        await this.#take(key, r)
      }
      if (!deps.sequencer.owns(key)) deps.sequencer.acquire(key, known)
    }, (err: unknown) => {
      // A hub of the replica set that does not answer may hold a newer epoch of the key (it
      // numbered the key while this hub was paused or cut off): guessing would number one
      // `(epoch, seq)` twice. The publish is retried, as after a move (`NotOwnerError`); a dead
      // hub leaves the replica set at its death verdict.
      throw new NotOwnerError(key, `${key}: not every hub of its replica set told its epoch (${err instanceof Error ? err.message : String(err)})`)
    }).finally(() => { this.#acquiring.delete(key) })
    this.#acquiring.set(key, done)
    return done
  }

  /** Every key this hub sequenced and no longer owns: released, and its state sent to the new owner. */
  handOffLost(): void {
    const { deps } = this
    for (const key of [...deps.sequencer.ownedKeys]) {
      const owner = deps.ownerOf(key)
      if (owner === deps.self) continue
      const offset = deps.sequencer.offsetOf(key)
      deps.sequencer.release(key)
      if (owner === undefined || !offset) continue
      void deps.fannedOut(key).then(() => this.#retainedOf(key)).then((retained) => {
        deps.stats.handoffsSent++
        return deps.bus.request(owner, { t: 'handoff', key, epoch: offset.epoch, seq: offset.seq, retained, tail: this.#tailOf(key) }, deps.requestTimeoutMs)
      }).catch((err: unknown) => deps.log.warn({ err, key, owner }, 'handoff not confirmed; the new owner asks for the key state itself'))
    }
  }

  /** `key-state` (a hub taking the key over asks) and `handoff` (the previous owner pushes). */
  async onRequest(r: KeyStateRequest): Promise<KeyStateReply> {
    if (r.t === 'handoff') {
      this.deps.stats.handoffsReceived++
      await this.deps.topicLog.noteEpoch(r.key, r.epoch)
      await this.#take(r.key, r)
    }
    await this.deps.fannedOut(r.key)
    const state = this.deps.sequencer.offsetOf(r.key) ?? this.deps.topicLog.state(r.key) ?? { epoch: 0, seq: 0 }
    return { t: 'key-state-reply', epoch: state.epoch, seq: state.seq, retained: await this.#retainedOf(r.key), tail: this.#tailOf(r.key) }
  }

  #retainedOf(key: string): Promise<RetainedMessage[]> {
    return this.deps.retained.matching([key, `${key}/#`])
  }

  #tailOf(key: string): TailEntry[] {
    return this.deps.topicLog.tail(key, TAIL_ENTRIES, TAIL_BYTES).map(({ key: _key, ...e }) => e)
  }

  /** Stores what another hub held of a key: its retained messages, and its log tail as copies. */
  async #take(key: string, s: { retained: KeyStateReply['retained'], tail?: TailEntry[] | undefined }): Promise<void> {
    for (const m of s.retained) await this.deps.retained.store({ topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos })
    if (!s.tail || s.tail.length === 0) return
    // Not waited for: the tail is history for readers of the log; the key's numbering starts from
    // the state, whatever becomes of this write.
    this.deps.topicLog.appendReplica(s.tail.map((e) => ({ ...e, key, payload: Buffer.from(e.payload) })))
      .catch((err: unknown) => this.deps.log.warn({ err, key }, 'handoff: the log tail was not stored'))
  }
}
