import { describe, expect, it } from 'vitest'
import { Firmware } from '../../firmware-sim/src/serial/firmware.js'
import { parseFault } from '../../firmware-sim/src/serial/faults.js'
import { parseLine } from '../../device-agent/src/protocol/parse-line.js'
import { seededRng } from '../../device-agent/dist/base/rng.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'

/** The firmware on a virtual clock, writing into an array; `lines()` reads it back as the agent would. */
function firmware(opts: { intervalMs?: number, dialect?: 'json' | 'kv' } = {}) {
  const clock = new ManualClock()
  const out: Buffer[] = []
  const disconnects: number[] = []
  const fw = new Firmware({ device: 'd1', clock, rng: seededRng(5), write: (b) => out.push(b), intervalMs: opts.intervalMs ?? 1000, dialect: opts.dialect ?? 'json', disconnect: (ms) => disconnects.push(ms) })
  const bytes = (): Buffer => Buffer.concat(out)
  const lines = (): string[] => bytes().toString('latin1').split('\n').filter(Boolean)
  const frames = () => lines().map((l) => parseLine(Buffer.from(l, 'latin1'), 'd1')).flatMap((r) => (r.kind === 'frame' ? [r.frame] : []))
  const command = (name: string, id: string, payload: unknown = null): void => fw.receive(Buffer.from(JSON.stringify({ type: 'command', device: 'd1', id, name, payload }) + '\n'))
  return { clock, fw, out, bytes, lines, frames, command, disconnects }
}

describe('simulated firmware', () => {
  it('says hello and its state, then sends plausible telemetry every interval with a rising seq', () => {
    const f = firmware({ intervalMs: 500 })
    f.fw.start()
    f.clock.advance(2000)
    const frames = f.frames()
    expect(frames.map((x) => x.type)).toEqual(['hello', 'state', 'telemetry', 'telemetry', 'telemetry', 'telemetry'])
    expect(frames.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6])
    for (const t of frames.filter((x) => x.type === 'telemetry')) {
      const p = (t as { payload: Record<string, number> }).payload
      expect(p.temp).toBeGreaterThan(15)
      expect(p.temp).toBeLessThan(28)
      expect(p.hum).toBeGreaterThan(5)
      expect(p.battery).toBeLessThanOrEqual(4.2)
      expect(p.rssi).toBeLessThan(-50)
    }
  })

  it('speaks the key=value dialect on request', () => {
    const f = firmware({ dialect: 'kv' })
    f.fw.telemetry(2)
    expect(f.lines()).toHaveLength(2)
    expect(f.lines()[0]).toMatch(/^temp=[\d.]+ hum=[\d.]+ battery=[\d.]+ rssi=-\d+$/)
  })

  it('answers ping, get, set (with a new state frame), reboot and unknown commands, correlated by id', () => {
    const f = firmware({ intervalMs: 0 })
    f.command('ping', 'a')
    f.command('set', 'b', { relay: 'on' })
    f.command('get', 'c')
    f.command('selfdestruct', 'd')
    const responses = f.frames().filter((x) => x.type === 'response')
    expect(responses.map((r) => [r.id, r.ok])).toEqual([['a', true], ['b', true], ['c', true], ['d', false]])
    expect(responses[2]!.payload).toEqual({ relay: 'on', interval_ms: 0 })
    expect(f.frames().some((x) => x.type === 'state' && (x.payload as { relay: string }).relay === 'on')).toBe(true)
    f.command('reboot', 'e')
    expect(f.frames().at(-2)).toMatchObject({ type: 'hello', seq: 1 })
  })

  it.each([
    ['noise 1000', (f: ReturnType<typeof firmware>) => expect(f.bytes().length).toBe(1000)],
    ['garbage 5000', (f: ReturnType<typeof firmware>) => expect(f.lines().map((l) => l.length)).toEqual([5000])],
    ['burst 50', (f: ReturnType<typeof firmware>) => expect(f.frames().filter((x) => x.type === 'telemetry')).toHaveLength(50)],
    ['partial', (f: ReturnType<typeof firmware>) => expect(f.bytes().includes(0x0a)).toBe(false)],
    ['disconnect 1500', (f: ReturnType<typeof firmware>) => expect(f.disconnects).toEqual([1500])],
  ])('injects %s', (line, check) => {
    const f = firmware({ intervalMs: 0 })
    const [kind, amount] = line.split(' ')
    f.fw.inject(parseFault(kind!, amount === undefined ? undefined : Number(amount))!)
    check(f)
  })

  it('mute: no answers for a while; silence: no telemetry for a while', () => {
    const f = firmware({ intervalMs: 100 })
    f.fw.start()
    f.out.length = 0 // hello and state
    f.fw.inject({ kind: 'mute', ms: 1000 })
    f.fw.inject({ kind: 'silence', ms: 1000 })
    f.command('ping', 'early')
    f.clock.advance(950)
    expect(f.frames()).toEqual([])
    f.clock.advance(100)
    f.command('ping', 'late')
    expect(f.frames().map((x) => x.type)).toEqual(['telemetry', 'response'])
    expect(f.frames()[1]).toMatchObject({ id: 'late' })
  })

  it('refuses unknown faults and silly amounts', () => {
    expect(parseFault('meteor', 1)).toBeUndefined()
    expect(parseFault('noise', -1)).toBeUndefined()
    expect(parseFault('noise', 1e12)).toBeUndefined()
  })
})
