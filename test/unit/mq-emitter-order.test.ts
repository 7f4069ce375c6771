import { describe, expect, it } from 'vitest'
import { createMqEmitter } from '../../hub/src/mqtt/mq-emitter.js'

// aedes drops a message whose brokerCounter is not above the last one a client got for that
// brokerId, so an emitter that starts a later message before an earlier one loses the earlier
// one for good. The trampoline defers deep synchronous chains to a fresh stack; everything
// emitted meanwhile must still reach listeners in emit order, with every slot of the emitter busy.
describe('mq emitter: deferred deliveries keep their order', () => {
  for (const [concurrency, every] of [[2, 37], [8, 3], [100, 2], [4, 200]] as const) {
    it(`listeners see messages in emit order with deep synchronous chains and slow ones mixed (concurrency ${concurrency}, one in ${every} slow)`, async () => {
      const mq = createMqEmitter({ concurrency })
      const seen: number[] = []
      const N = 3_000
      let done = 0
      const finished = new Promise<void>((resolve) => {
        mq.on('d/#', (message, cb) => {
          const n = (message as unknown as { n: number }).n
          seen.push(n)
          // Most deliveries finish at once (a QoS 0 drop, a client already gone); every `every`th
          // waits a turn, so the other slots go on meanwhile and the queue grows deep.
          if (n % every === 0) setImmediate(cb)
          else cb()
          if (++done === N) resolve()
        })
      })
      for (let n = 1; n <= N; n++) mq.emit({ topic: 'd/x', payload: Buffer.alloc(0), n } as never)
      await finished
      expect(seen).toHaveLength(N)
      const outOfOrder = seen.filter((n, i) => i > 0 && n < (seen[i - 1] as number)).length
      expect(outOfOrder).toBe(0)
      await new Promise<void>((resolve) => { mq.close(() => resolve()) })
    })
  }
})
