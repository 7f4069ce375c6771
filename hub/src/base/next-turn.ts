/**
 * Runs `fn` in the next turn of the event loop (after I/O), on a fresh stack. Not a timer: no
 * time passes that a Clock would model, so it is the one sanctioned use of setImmediate in hub
 * code (for trampolines and for coalescing work done within one loop turn).
 */
export function nextTurn(fn: () => void): void {
  // eslint-disable-next-line no-restricted-globals -- see above
  setImmediate(fn)
}
