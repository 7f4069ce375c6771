import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { backoffDelayMs } from '../../device-agent/src/base/backoff.js'
import { seededRng } from '../../device-agent/src/base/rng.js'
import { Counters } from '../../device-agent/src/base/counters.js'
import { CommandTable, type CommandResult } from '../../device-agent/src/bridge/commands.js'
import { SysfsPortLister, parseUsbIdentity } from '../../device-agent/src/serial/usb-identity.js'
import { loadAgentConfig } from '../../device-agent/src/config.js'
import { SeqTracker } from '../../firmware-sim/src/fleet/seq-tracker.js'
import { ManualClock } from '../../hub/src/base/manual-clock.js'
import { tempDir } from '../helpers/hubs.js'

const cleanups: Array<() => void> = []
afterEach(() => { while (cleanups.length) cleanups.pop()?.() })

describe('backoff with equal jitter', () => {
  it.each([[0, 250], [1, 500], [2, 1000], [6, 15_000], [40, 15_000]])('attempt %i stays within [d/2, d] of d = %i ms', (attempt, nominal) => {
    const rng = seededRng(7)
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(attempt, { initialMs: 250, maxMs: 15_000 }, rng)
      expect(d).toBeGreaterThanOrEqual(nominal / 2)
      expect(d).toBeLessThanOrEqual(nominal)
    }
  })
})

describe('SeqTracker', () => {
  it('tells first sightings from repeats, in and out of order', () => {
    const t = new SeqTracker()
    expect([1, 2, 4, 3, 2, 4, 5, 7].map((s) => t.see(s))).toEqual([true, true, true, true, false, false, true, true])
    expect(t.duplicates).toBe(2)
    expect(t.count).toBe(6)
    expect([5, 6, 7].map((s) => t.has(s))).toEqual([true, false, true])
  })
})

describe('USB identity', () => {
  it.each([
    ['2341:0043', { vendorId: '2341', productId: '0043' }],
    ['2341:0043:SN 1', { vendorId: '2341', productId: '0043', serialNumber: 'SN 1' }],
    ['10C4:EA60', { vendorId: '10c4', productId: 'ea60' }],
    ['2341', undefined],
    ['zz41:0043', undefined],
  ])('parses %j', (text, expected) => {
    expect(parseUsbIdentity(text)).toEqual(expected)
  })

  it('reads vendor, product and serial from a sysfs-shaped tree, as on a real machine', async () => {
    const dir = tempDir('ringhub-sysfs-')
    cleanups.push(dir.remove)
    const usb = join(dir.path, 'devices/pci0000:00/usb1/1-1')
    mkdirSync(join(usb, '1-1:1.0/ttyUSB0/tty/ttyUSB0'), { recursive: true })
    mkdirSync(join(usb, '1-2:1.0'), { recursive: true }) // an ACM device: the interface is the device link
    writeFileSync(join(usb, 'idVendor'), '10c4\n')
    writeFileSync(join(usb, 'idProduct'), 'ea60\n')
    writeFileSync(join(usb, 'serial'), 'A1B2\n')
    mkdirSync(join(dir.path, 'class/tty/ttyUSB0'), { recursive: true })
    symlinkSync(join(usb, '1-1:1.0/ttyUSB0'), join(dir.path, 'class/tty/ttyUSB0/device'))
    mkdirSync(join(dir.path, 'class/tty/ttyACM0'), { recursive: true })
    symlinkSync(join(usb, '1-2:1.0'), join(dir.path, 'class/tty/ttyACM0/device'))
    mkdirSync(join(dir.path, 'class/tty/tty0'), { recursive: true }) // a console: no device link
    const ports = await new SysfsPortLister(dir.path, '/dev').list()
    expect(ports).toEqual([
      { path: '/dev/ttyACM0', vendorId: '10c4', productId: 'ea60', serialNumber: 'A1B2' },
      { path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'ea60', serialNumber: 'A1B2' },
    ])
  })
})

describe('CommandTable', () => {
  function table(opts: { write?: boolean, maxPending?: number } = {}) {
    const clock = new ManualClock()
    const written: string[] = []
    const results: Array<[string, CommandResult]> = []
    const t = new CommandTable({
      device: 'd1', maxFrameBytes: 256, defaultTimeoutMs: 5000, clock, counters: new Counters(), ...(opts.maxPending !== undefined ? { maxPending: opts.maxPending } : {}),
      write: (line) => { written.push(line.toString()); return opts.write ?? true },
      respond: (name, body) => results.push([name, body]),
    })
    return { clock, written, results, t }
  }

  it('writes the command and answers with the device response, matched by id', () => {
    const { written, results, t } = table()
    t.handle('set', Buffer.from('{"id":"c1","args":{"relay":"on"}}'))
    expect(JSON.parse(written[0]!)).toEqual({ type: 'command', device: 'd1', id: 'c1', name: 'set', payload: { relay: 'on' } })
    t.answer({ type: 'response', id: 'c1', ok: true, payload: { relay: 'on' } })
    expect(results).toEqual([['set', { id: 'c1', ok: true, value: { relay: 'on' } }]])
    expect(t.pending).toBe(0)
  })

  it('answers a silent device with a timeout error after the timeout, not before', () => {
    const { clock, results, t } = table()
    t.handle('ping', Buffer.from('{"id":"c2","timeoutMs":1500}'))
    clock.advance(1499)
    expect(results).toEqual([])
    clock.advance(1)
    expect(results).toEqual([['ping', { id: 'c2', ok: false, error: { code: 'timeout', message: 'device d1 did not answer command "ping" (id c2) within 1500 ms' } }]])
    t.answer({ type: 'response', id: 'c2', ok: true, payload: null }) // too late: dropped
    expect(results).toHaveLength(1)
  })

  it.each([
    ['not JSON', 'ping', 'hello', null, 'bad-command'],
    ['no id', 'ping', '{"args":1}', null, 'bad-command'],
    ['bad timeout', 'ping', '{"id":"c","timeoutMs":-1}', 'c', 'bad-command'],
    ['bad name', 'a b', '{"id":"c"}', null, 'bad-command'],
    ['too large', 'ping', JSON.stringify({ id: 'c', args: 'x'.repeat(300) }), 'c', 'too-large'],
  ])('refuses %s with an error response', (_n, name, payload, id, code) => {
    const { results, written, t } = table()
    t.handle(name, Buffer.from(payload))
    expect(written).toEqual([])
    expect(results[0]![1]).toMatchObject({ id, ok: false, error: { code } })
  })

  it('says device-offline when the port is closed, busy when too many wait, and ignores a redelivered id', () => {
    expect(table({ write: false }).t.handle('ping', Buffer.from('{"id":"c"}'))).toBeUndefined()
    const off = table({ write: false })
    off.t.handle('ping', Buffer.from('{"id":"c"}'))
    expect(off.results[0]![1]).toMatchObject({ ok: false, error: { code: 'device-offline' } })
    const busy = table({ maxPending: 1 })
    busy.t.handle('ping', Buffer.from('{"id":"a"}'))
    busy.t.handle('ping', Buffer.from('{"id":"a"}'))
    busy.t.handle('ping', Buffer.from('{"id":"b"}'))
    expect(busy.written).toHaveLength(1)
    expect(busy.results).toEqual([['ping', expect.objectContaining({ id: 'b', error: expect.objectContaining({ code: 'busy' }) })]])
  })
})

describe('agent config', () => {
  it('takes one port from flags', () => {
    const c = loadAgentConfig(['--port', '/dev/ttyUSB0', '--device', 'd42', '--hubs', 'mqtt://h1:1883,ws://h2:8080/mqtt', '--baud', '9600'], { RINGHUB_AGENT_PASSWORD: 'pw' })
    expect(c.hubs).toEqual(['mqtt://h1:1883', 'ws://h2:8080/mqtt'])
    expect(c.ports).toEqual([{ path: '/dev/ttyUSB0', device: 'd42', baud: 9600, password: 'pw', maxFrameBytes: 1024, partialTimeoutMs: 500, commandTimeoutMs: 5000 }])
  })

  it('takes several ports from YAML, with shared values', () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const file = join(dir.path, 'agent.yaml')
    writeFileSync(file, 'hubs: [mqtts://h1:8883]\nbaud: 57600\nports:\n  - { path: /dev/ttyUSB0, device: a }\n  - { usb: "2341:0043:X", device: b, baud: 9600 }\n')
    const c = loadAgentConfig(['--config', file])
    expect(c.ports.map((p) => [p.device, p.path, p.usb, p.baud])).toEqual([['a', '/dev/ttyUSB0', undefined, 57600], ['b', undefined, { vendorId: '2341', productId: '0043', serialNumber: 'X' }, 9600]])
  })

  it.each([
    [['--device', 'd1'], /--port PATH or --usb/],
    [['--port', '/dev/x'], /device: required/],
    [['--port', '/dev/x', '--device', 'a/b'], /must match/],
    [['--port', '/dev/x', '--device', 'd', '--hubs', 'http://x'], /not an mqtt/],
    [['--port', '/dev/x', '--device', 'd', '--usb', '12:34'], /VID:PID/],
    [['--port', '/dev/x', '--device', 'd', '--frobnicate'], /unknown option/],
  ])('refuses %j', (argv, message) => {
    expect(() => loadAgentConfig(argv)).toThrow(message)
  })
})
