import type { HubDb } from './db.js'

/** Durable integers about this hub (the SWIM incarnation), in the `node_state` table. */
export class NodeState {
  readonly #get
  readonly #put

  constructor(private readonly db: HubDb) {
    this.#get = db.sqlite.prepare<[string], { value: number }>('SELECT value FROM node_state WHERE name = ?')
    this.#put = db.sqlite.prepare<[string, number]>('INSERT INTO node_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
  }

  get(name: string): number | undefined {
    return this.db.read(() => this.#get.get(name)?.value)
  }

  /** Resolves once committed. */
  set(name: string, value: number): Promise<void> {
    return this.db.write(() => { this.#put.run(name, value) })
  }
}
