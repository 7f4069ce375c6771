/**
 * Which sequence numbers of one device have been seen, compactly: everything up to `contiguous`
 * plus the few seen beyond a gap. Telling a repeat from a first sighting costs O(1).
 */
export class SeqTracker {
  #contiguous = 0
  readonly #beyond = new Set<number>()
  #duplicates = 0
  #count = 0

  /** Records `seq`; false when it had been seen before (a duplicate). */
  see(seq: number): boolean {
    if (seq <= this.#contiguous || this.#beyond.has(seq)) {
      this.#duplicates++
      return false
    }
    this.#count++
    if (seq === this.#contiguous + 1) {
      this.#contiguous = seq
      while (this.#beyond.delete(this.#contiguous + 1)) this.#contiguous++
    } else {
      this.#beyond.add(seq)
    }
    return true
  }

  has(seq: number): boolean {
    return seq <= this.#contiguous || this.#beyond.has(seq)
  }

  get duplicates(): number { return this.#duplicates }
  /** Distinct seqs seen. */
  get count(): number { return this.#count }
}
