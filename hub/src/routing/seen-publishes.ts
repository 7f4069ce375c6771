import type { Offset } from '../store/topic-log.js'

/** A forwarded publish already numbered; `fannedOut` false when it is known from replication
 *  only (the owner may have died before sending it to subscribers). */
export interface SeenPublish extends Offset {
  fannedOut: boolean
  /** Numbered here and still being committed, replicated and fanned out: a retry's answer waits for it. */
  done?: Promise<unknown>
  /** Numbered here: whether enough replicas committed their copies (false: a retry copies it again). */
  copied?: Promise<boolean>
  /** Numbered here: its commit to this hub's log. A retry of a publish whose commit failed (a full
   *  disk) fails too: answering it with the offset would acknowledge a message never stored. */
  stored?: Promise<unknown>
  /** Numbered here: when it arrived, in this hub's order of arrivals (`RetryHolds`). */
  arrival?: number
}

/**
 * The ids of forwarded publishes already numbered, so that a retry (the ingress hub did not get
 * the answer) gets the same offset instead of a second number. Keeps between `window / 2` and
 * `window` of the latest, in two generations: a Map used as a FIFO with deletes at the front
 * degrades, because V8 skips the deleted entries on every `keys()`.
 */
export class SeenPublishes {
  #current = new Map<string, SeenPublish>()
  #previous = new Map<string, SeenPublish>()

  constructor(private readonly window = 50_000) {}

  get(id: string): SeenPublish | undefined {
    return this.#current.get(id) ?? this.#previous.get(id)
  }

  /** Forgets `id`: its next attempt is numbered anew. */
  forget(id: string): void {
    this.#current.delete(id)
    this.#previous.delete(id)
  }

  remember(id: string, seen: SeenPublish): void {
    this.#current.set(id, seen)
    if (this.#current.size >= this.window / 2) {
      this.#previous = this.#current
      this.#current = new Map()
    }
  }
}
