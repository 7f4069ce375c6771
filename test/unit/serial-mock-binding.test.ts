import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SerialPortMock } from 'serialport'
import { pino } from 'pino'
import { SerialLink, type SerialStream } from '../../device-agent/src/serial/serial-link.js'
import { FrameReader } from '../../device-agent/src/bridge/frame-reader.js'
import { Counters } from '../../device-agent/src/base/counters.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import type { DeviceFrame } from '../../device-agent/src/protocol/frames.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { waitFor } from '../helpers/wait.js'

const PATH = '/dev/ROBOT'
// serialport's own copy of @serialport/binding-mock (its CJS build): importing the package's ESM
// build would give a second, separate registry of mock ports.
const MockBinding = SerialPortMock.binding

/** A SerialLink and a FrameReader over serialport's mock binding, on a virtual clock. */
function rig(maxFrameBytes = 256) {
  const clock = new ManualClock()
  const counters = new Counters()
  const frames: DeviceFrame[] = []
  const ports: SerialPortMock[] = []
  const log = pino({ level: 'silent' })
  const reader = new FrameReader({ device: 'd1', maxFrameBytes, partialTimeoutMs: 500, clock, counters, log, onFrame: (f) => frames.push(f) })
  const link = new SerialLink({
    path: PATH, baudRate: 115200, clock, rng: seededRng(1), log,
    opener: (path, baudRate) => {
      const p = new SerialPortMock({ path, baudRate, autoOpen: false })
      ports.push(p)
      return p as unknown as SerialStream
    },
    lister: { list: async () => [] },
    onData: (chunk) => reader.push(chunk),
    onClose: () => reader.reset(),
  })
  /** Bytes arriving from the device. */
  const fromDevice = (data: string | Buffer): void => { ports.at(-1)!.port!.emitData(data) }
  return { clock, counters, frames, ports, link, reader, fromDevice }
}

let r: ReturnType<typeof rig>
beforeEach(() => { MockBinding.createPort(PATH, { record: true }) })
afterEach(async () => {
  await r?.link.stop()
  MockBinding.reset()
})

const telemetry = (n: number): string => `{"type":"telemetry","device":"d1","seq":${n},"payload":{"temp":${20 + n / 10}}}\n`

describe('framing over serialport\'s mock binding', () => {
  it('reads frames split at every byte boundary', async () => {
    r = rig()
    r.link.start()
    await waitFor(() => r.link.isOpen, 'mock port open')
    const bytes = Buffer.from(telemetry(1) + telemetry(2) + 'temp=1 hum=2\r\n')
    for (const b of bytes) r.fromDevice(Buffer.from([b]))
    await waitFor(() => r.frames.length === 3, 'three frames')
    expect(r.frames).toEqual([
      { type: 'telemetry', device: 'd1', seq: 1, payload: { temp: 20.1 } },
      { type: 'telemetry', device: 'd1', seq: 2, payload: { temp: 20.2 } },
      { type: 'telemetry', payload: { temp: 1, hum: 2 } },
    ])
    expect(r.counters.get('serial_bytes')).toBe(bytes.length)
  })

  it('counts and skips noise, over-long lines and partial frames; valid frames around them flow', async () => {
    r = rig(256)
    r.link.start()
    await waitFor(() => r.link.isOpen, 'mock port open')
    const rng = seededRng(99)
    const noise = Buffer.alloc(300)
    for (let i = 0; i < noise.length; i++) noise[i] = rng.int(256)
    r.fromDevice(telemetry(1))
    r.fromDevice(Buffer.concat([noise, Buffer.from('\n')]))
    r.fromDevice('x'.repeat(10_000) + '\n')
    r.fromDevice(telemetry(2))
    r.fromDevice('{"type":"telemetry","dev') // partial, then the line goes quiet
    await waitFor(() => r.frames.length === 2 && r.counters.get('serial_bytes') > 10_000, 'bytes read')
    r.clock.advance(499)
    expect(r.counters.get('dropped.partial')).toBe(0)
    r.clock.advance(1)
    expect(r.counters.get('dropped.partial')).toBe(1)
    r.fromDevice(telemetry(3))
    await waitFor(() => r.frames.length === 3, 'frame after the junk')
    expect(r.frames.map((f) => f.seq)).toEqual([1, 2, 3])
    expect(r.counters.get('dropped.overlong')).toBe(1)
    const junkLines = ['noise', 'bad-json', 'bad-kv', 'unknown-type', 'bad-frame'].reduce((n, k) => n + r.counters.get(`dropped.${k}`), 0)
    expect(junkLines).toBeGreaterThanOrEqual(1)
    expect(r.counters.get('dropped_bytes')).toBeGreaterThan(10_000 + 24)
  })

  it('writes command lines to the device', async () => {
    r = rig()
    r.link.start()
    await waitFor(() => r.link.isOpen, 'mock port open')
    const done = new Promise<void>((resolve) => r.link.write(Buffer.from('{"type":"command","id":"c1"}\n'), () => resolve()))
    await done
    expect(r.ports[0]!.port!.recording.toString()).toBe('{"type":"command","id":"c1"}\n')
  })

  it('reopens with backoff after the port closes, and drops the partial line it had', async () => {
    r = rig()
    r.link.start()
    await waitFor(() => r.link.isOpen, 'mock port open')
    r.fromDevice('{"type":"telem')
    await waitFor(() => r.counters.get('serial_bytes') > 0, 'partial read')
    await new Promise<void>((resolve) => r.ports[0]!.close(() => resolve()))
    await waitFor(() => !r.link.isOpen, 'closed seen')
    expect(r.counters.get('dropped.partial')).toBe(1)
    expect(r.link.write(Buffer.from('x'))).toBe(false)
    r.clock.advance(99) // first retry after 100..200 ms
    expect(r.ports).toHaveLength(1)
    r.clock.advance(101)
    await waitFor(() => r.link.isOpen, 'reopened')
    expect(r.link.opens).toBe(2)
    r.fromDevice(telemetry(9))
    await waitFor(() => r.frames.length === 1, 'frame after reopen')
  })
})
