/**
 * `node bench/dist/micro-link-rows.js`: CPU per item of a forwarded publish batch and a replica
 * batch through the router link's frames (encode, frame, read, decode, check), in their object
 * forms and as rows (`hub/src/routing/request-rows.ts`), batches of 64 with 64-byte payloads.
 * Both forms in one process, alternating, three rounds; for the figures quoted in docs/routing.md.
 */
import { FrameKind, FrameReader, encodeFrame } from '../../hub/dist/routing/link-frames.js'
import { asRouterRequest, type RouterRequest } from '../../hub/dist/routing/messages.js'
import { packRequest } from '../../hub/dist/routing/request-rows.js'

const ITEMS = 64
const BATCHES = 20_000
const ROUNDS = 3

const payload = Buffer.alloc(64, 7)
const requests: RouterRequest[] = [
  { t: 'publish-batch', items: Array.from({ length: ITEMS }, (_, i) => ({ id: `a:${100_000 + i}`, topic: 'devices/r0/t', payload, qos: 1 as const, retain: false })) },
  { t: 'replicate', entries: Array.from({ length: ITEMS }, (_, i) => ({ key: 'devices/r0', epoch: 3, seq: 1000 + i, topic: 'devices/r0/t', payload, qos: 1 as const, retain: false, tsMs: 1_800_000_000_000 + i, id: `a:${100_000 + i}`, via: 'a' })) },
]
const forms: Array<[name: string, pack: (r: RouterRequest) => unknown]> = [['object', (r) => r], ['rows', packRequest]]

function usPerItem(request: RouterRequest, pack: (r: RouterRequest) => unknown): number {
  const reader = new FrameReader(1 << 24)
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const [frame] = reader.push(encodeFrame(FrameKind.request, 1, pack(request)))
      asRouterRequest(frame?.body)
    }
  }
  run(BATCHES / 10) // warm-up
  const start = process.cpuUsage()
  run(BATCHES)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / BATCHES / ITEMS
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const request of requests) {
    const cells = forms.map(([name, pack]) => `${name} ${usPerItem(request, pack).toFixed(2)}`)
    process.stdout.write(`round ${round}, ${request.t}: µs of CPU per item: ${cells.join(', ')}\n`)
  }
}
