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
 * The trampoline counts nesting and, past MAX_NESTED, continues on a fresh stack (nextTurn). The slot stays reserved (`current`) while it waits, so later emits queue
 * behind it: delivery order is unchanged [MQTT-4.6.0-6].
 */
export function createMqEmitter(opts: { concurrency: number }): MQEmitter {
  const mq = mqemitter({ concurrency: opts.concurrency, matchEmptyLevels: true }) // [MQTT-4.7.1-3], as aedes sets it
  const internals = mq as unknown as EmitterInternals
  const run = internals._do
  let depth = 0
  internals._do = function trampolinedDo(this: EmitterInternals, message, callback) {
    if (depth >= MAX_NESTED) {
      this.current++
      nextTurn(() => {
        this.current--
        run.call(this, message, callback)
      })
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
