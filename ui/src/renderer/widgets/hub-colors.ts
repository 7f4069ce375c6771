/**
 * A colour per hub, stable while the app runs: the first hub seen gets the first colour, and a
 * hub keeps its colour when it dies and comes back, so arcs and chart lines stay recognisable.
 */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac']

export class HubColors {
  readonly #assigned = new Map<string, string>()

  colorOf(hub: string): string {
    let c = this.#assigned.get(hub)
    if (!c) {
      c = PALETTE[this.#assigned.size % PALETTE.length] as string
      this.#assigned.set(hub, c)
    }
    return c
  }

  /** Assigns in the given order (sorted ids), so every window of the app agrees on first load. */
  assign(hubs: readonly string[]): void {
    for (const h of hubs) this.colorOf(h)
  }
}
