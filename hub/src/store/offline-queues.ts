/**
 * How many rows each client has in `outgoing`, and the bound on them (Mosquitto's
 * max_queued_messages). Kept in memory so that the PUBACK of a client with nothing queued (every
 * clean-session client) and the bound check cost no SQLite query.
 */
export class OfflineQueues {
  readonly #counts = new Map<string, number>()

  /** `limit`: most rows a disconnected client may have queued; 0 = unlimited. */
  constructor(readonly limit: number) {}

  load(rows: Iterable<{ client_id: string, n: number }>): void {
    for (const row of rows) this.#counts.set(row.client_id, row.n)
  }

  clear(): void { this.#counts.clear() }

  count(clientId: string): number { return this.#counts.get(clientId) ?? 0 }

  /**
   * May one more message be queued for this client? A connected client is never refused: its
   * rows are also its in-flight window, and aedes disconnects a client whose in-flight packet
   * is missing; a stuck connected client is bounded by drainTimeoutMs instead.
   */
  admits(clientId: string, connected: boolean): boolean {
    return connected || this.limit === 0 || this.count(clientId) < this.limit
  }

  added(clientId: string): void { this.#counts.set(clientId, this.count(clientId) + 1) }

  removed(clientId: string): void {
    const n = this.count(clientId)
    if (n > 1) this.#counts.set(clientId, n - 1)
    else this.#counts.delete(clientId)
  }
}
