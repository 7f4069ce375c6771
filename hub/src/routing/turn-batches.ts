import { nextTurn } from '../base/next-turn.js'

/**
 * Gathers what one event-loop turn sends to each peer into one request (a request per message
 * cost a frame, a promise, a deadline and an answer each). `send` gets a peer's items in call
 * order and resolves with one result per item, in the same order; `add` resolves with its item's.
 */
export class TurnBatches<Item, Result> {
  readonly #open = new Map<string, { items: Item[], results: Promise<Result[]> }>()

  constructor(private readonly send: (peer: string, items: Item[]) => Promise<Result[]>) {}

  add(peer: string, item: Item): Promise<Result> {
    let batch = this.#open.get(peer)
    if (!batch) {
      const items: Item[] = []
      const results = new Promise<Result[]>((resolve, reject) => {
        nextTurn(() => {
          this.#open.delete(peer)
          this.send(peer, items).then(resolve, reject)
        })
      })
      batch = { items, results }
      this.#open.set(peer, batch)
    }
    const index = batch.items.push(item) - 1
    return batch.results.then((all) => all[index] as Result)
  }
}
