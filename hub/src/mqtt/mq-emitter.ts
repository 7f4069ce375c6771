import mqemitter from 'mqemitter'
import { nextTurn } from '../base/next-turn.js'

type MQEmitter = mqemitter.MQEmitter
type Callback = (error?: Error) => void

/** mqemitter's internals that the trampoline below reaches into (mqemitter 7.x). */
interface EmitterInternals {
  current: number
  _do(message: mqemitter.Message, callback: Callback): unknown
}

/** Nested deliveries allowed before the next one is moved to a fresh stack. */
const MAX_NESTED = 64

/**
 * aedes' in-process message bus, made safe against deep queues. mqemitter runs at most
 * `concurrency` emits at once and queues the rest; when an emit finishes it starts the next
 * queued one from inside its own callback. With no matching listener an emit finishes
 * synchronously, so a long queue (a QoS 0 flood whose subscribers just left) is drained by
 * recursion and overflows the stack, killing the process (mcollina/mqemitter#204; plain aedes
 * 1.2 dies this way).
 *
 * The trampoline counts nesting and, past MAX_NESTED, continues on a fresh stack (nextTurn). The slot stays reserved (`current`) while it waits, and every
 * message that reaches `_do` while one waits is deferred behind it, in order: another slot
 * released meanwhile would otherwise start a later message first, and aedes' per-client dedupe
 * (brokerCounter) then drops the earlier one as a duplicate. That lost acknowledged QoS 1
 * messages when many deliveries completed synchronously (dropped QoS 0 under memory overload,
 * test/faults/capacity.fault.ts). Delivery order is unchanged [MQTT-4.6.0-6].
 */
export function createMqEmitter(opts: { concurrency: number }): MQEmitter {
  const mq = mqemitter({ concurrency: opts.concurrency, matchEmptyLevels: true }) // [MQTT-4.7.1-3], as aedes sets it
  const internals = mq as unknown as EmitterInternals
  const run = internals._do
  let depth = 0
  const deferred: Array<{ message: mqemitter.Message, callback: Callback }> = []
  const runDeferred = (): void => {
    // One at a time, in order; a message deferred again (deep nesting) waits at the front.
    while (deferred.length > 0 && depth < MAX_NESTED) {
      const next = deferred.shift() as { message: mqemitter.Message, callback: Callback }
      internals.current--
      depth++
      try {
        run.call(internals, next.message, next.callback)
      } finally {
        depth--
      }
    }
    if (deferred.length > 0) nextTurn(runDeferred)
  }
  internals._do = function trampolinedDo(this: EmitterInternals, message, callback) {
    if (depth >= MAX_NESTED || deferred.length > 0) {
      this.current++
      deferred.push({ message, callback })
      if (deferred.length === 1) nextTurn(runDeferred)
      return this
    }
    depth++
    try {
      return run.call(this, message, callback)
    } finally {
      depth--
    }
  }
  return mq
}
