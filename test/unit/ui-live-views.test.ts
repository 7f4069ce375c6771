import { describe, expect, it } from 'vitest'
import type { TopicView } from '../../hub/src/contract/admin-api.js'
import type { ChannelMessage } from '../../hub/src/contract/channels.js'
import type { RingMemberView, RingView } from '../../hub/src/contract/ring-view.js'
import { addsHubs, channelUrlOf, channelUrls, hubOfChannelUrl } from '../../ui/src/renderer/logic/channel-urls.js'
import { toCsv, toJsonLines } from '../../ui/src/renderer/logic/history-export.js'
import { appendInOrder, fromChannel, newestOffset, type ShownMessage } from '../../ui/src/renderer/logic/live-messages.js'
import { TelemetryRows } from '../../ui/src/renderer/logic/telemetry-rows.js'

// The pure parts of the live views (issue 8): the channel client's hub list from the ring view,
// the topic detail's message list, the device detail's telemetry rows.

const member = (id: string, state: RingMemberView['state'], admin: string | undefined, role = 'hub'): RingMemberView =>
  ({ id, state, incarnation: 1, addresses: { gossip: 'g:1', ...(admin ? { admin } : {}) }, meta: { role }, share: 0 })
const ring: RingView = {
  apiVersion: 1, self: 'b', checksum: '00000000',
  members: [
    member('a', 'dead', '10.0.0.1:8080'), member('b', 'alive', '10.0.0.2:8080'), member('c', 'alive', '10.0.0.3:8080'),
    member('d', 'suspect', '10.0.0.4:8080'), member('e', 'left', '10.0.0.5:8080'), member('f', 'alive', undefined),
    member('desk', 'alive', '10.0.0.9:8080', 'observer'),
  ],
}

describe('the channel client\'s hub list', () => {
  it.each([
    ['http://10.0.0.2:8080', undefined, ['ws://10.0.0.2:8080/channels']],
    ['http://10.0.0.2:8080/', undefined, ['ws://10.0.0.2:8080/channels']],
    ['http://10.0.0.2:8080', { ...ring, members: [] as RingMemberView[] }, ['ws://10.0.0.2:8080/channels']],
    // The UI's hub first; then alive hubs, suspect, dead; never an observer, a hub that left, or one without an admin port.
    ['http://10.0.0.2:8080', ring, ['ws://10.0.0.2:8080/channels', 'ws://10.0.0.3:8080/channels', 'ws://10.0.0.4:8080/channels', 'ws://10.0.0.1:8080/channels']],
    ['http://gw:8080', ring, ['ws://gw:8080/channels', 'ws://10.0.0.2:8080/channels', 'ws://10.0.0.3:8080/channels', 'ws://10.0.0.4:8080/channels', 'ws://10.0.0.1:8080/channels']],
    // A page over https talks wss to every hub.
    ['https://10.0.0.3:8080', ring, ['wss://10.0.0.3:8080/channels', 'wss://10.0.0.2:8080/channels', 'wss://10.0.0.4:8080/channels', 'wss://10.0.0.1:8080/channels']],
  ] as const)('%s, ring %#', (hubUrl, view, urls) => {
    expect(channelUrls(hubUrl, view)).toEqual(urls)
  })

  it('names the hub of a URL, and tells when a ring view adds hubs', () => {
    expect(channelUrlOf('HTTPS://x:1')).toBe('wss://x:1/channels')
    expect(hubOfChannelUrl('ws://10.0.0.3:8080/channels', ring)).toBe('c')
    expect(hubOfChannelUrl('ws://gw:8080/channels', ring)).toBe('gw:8080')
    expect(hubOfChannelUrl('not a url', ring)).toBe('not a url')
    expect(addsHubs(['ws://a/channels', 'ws://b/channels'], ['ws://b/channels'])).toBe(false)
    expect(addsHubs(['ws://a/channels'], ['ws://a/channels', 'ws://c/channels'])).toBe(true)
  })
})

const stored = (seq: number, epoch = 3): ShownMessage => ({ topic: 't/x', epoch, seq, tsMs: 1_000 + seq, qos: 1, retain: false, payload: String(seq), encoding: 'utf8' })
const channelMessage = (seq: number | undefined, payload: unknown, extra: Partial<ChannelMessage> = {}): ChannelMessage =>
  ({ op: 'message', join: 't/x', topic: 't/x', payload, retained: false, ...(seq === undefined ? {} : { key: 't/x', epoch: 3, seq }), ...extra })

describe('the topic detail\'s messages', () => {
  it('continues from the newest loaded offset, in order, never twice, within the limit', () => {
    const list = [stored(1), stored(2)]
    expect(newestOffset(list)).toEqual({ epoch: 3, seq: 2 })
    expect(newestOffset([])).toBeUndefined()
    expect(appendInOrder(list, stored(2), 3)).toBe(-1)
    expect(appendInOrder(list, stored(1), 3)).toBe(-1)
    expect(appendInOrder(list, stored(3), 3)).toBe(0)
    expect(appendInOrder(list, stored(4), 3)).toBe(1)
    expect(list.map((m) => m.seq)).toEqual([2, 3, 4])
    // A new epoch comes after any seq of an older one.
    expect(appendInOrder(list, stored(1, 4), 3)).toBe(1)
    expect(list.map((m) => `${m.epoch}:${m.seq}`)).toEqual(['3:3', '3:4', '4:1'])
  })

  it('shows a channel message as its JSON text, binary as base64, and skips retained copies without an offset', () => {
    expect(fromChannel(channelMessage(7, { c: 21.5 }), 5_000)).toEqual({ topic: 't/x', epoch: 3, seq: 7, tsMs: 5_000, retain: false, payload: '{"c":21.5}', encoding: 'utf8', live: 'channel' })
    expect(fromChannel(channelMessage(8, 'on'), 1)?.payload).toBe('"on"')
    expect(fromChannel(channelMessage(9, 'AP8B', { encoding: 'base64' }), 1)).toMatchObject({ payload: 'AP8B', encoding: 'base64' })
    expect(fromChannel(channelMessage(undefined, 1, { retained: true }), 1)).toBeUndefined()
  })

  it('exports a live message without a QoS (the channel does not send it)', () => {
    const live = fromChannel(channelMessage(7, 1), 0) as ShownMessage
    expect(toCsv([live]).split('\r\n')[1]).toBe('1970-01-01T00:00:00.000Z,0,t/x,3,7,,false,utf8,1')
    expect(JSON.parse(toJsonLines([live]))).toEqual({ topic: 't/x', epoch: 3, seq: 7, tsMs: 0, retain: false, payload: '1', encoding: 'utf8', live: 'channel' })
  })
})

const topicView = (topic: string, lastPayload: string, lastTsMs: number): TopicView => ({ topic, count: 1, lastPayload, encoding: 'utf8', lastTsMs, retained: false, owner: 'a' })
const deviceMessage = (topic: string, payload: unknown, seq?: number): ChannelMessage =>
  ({ op: 'message', join: 'devices/d1/#', topic, payload, retained: seq === undefined, ...(seq === undefined ? {} : { key: 'devices/d1', epoch: 1, seq }) })

describe('the device detail\'s telemetry rows', () => {
  it('starts from the hub\'s list, takes numbered messages live, and lets a retained copy only fill a missing topic', () => {
    const rows = new TelemetryRows()
    rows.setTopics([topicView('devices/d1/temp', '20', 100), topicView('devices/d1/mode', 'auto', 90)])
    expect(rows.apply(deviceMessage('devices/d1/mode', 'manual'), 1_000)).toBe(false) // retained, older than the list's
    expect(rows.apply(deviceMessage('devices/d1/fw', '1.2'), 1_000)).toBe(true) // retained, a topic the list lacked
    expect(rows.apply(deviceMessage('devices/d1/temp', 21.5, 5), 2_000)).toBe(true)
    expect(rows.apply(deviceMessage('devices/d1/temp', 19, 4), 2_001)).toBe(false) // older offset
    expect(rows.rows().map((r) => [r.topic, r.payload, r.tsMs])).toEqual([
      ['devices/d1/temp', '21.5', 2_000], ['devices/d1/fw', '"1.2"', 1_000], ['devices/d1/mode', 'auto', 90],
    ])
  })

  it('a list read that answers after live messages keeps the newer live values', () => {
    const rows = new TelemetryRows()
    rows.apply(deviceMessage('devices/d1/temp', 22, 9), 5_000)
    rows.apply(deviceMessage('devices/d1/hum', 40, 10), 5_001)
    rows.setTopics([topicView('devices/d1/temp', '21', 4_000), topicView('devices/d1/mode', 'auto', 3_000)])
    expect(rows.rows().map((r) => [r.topic, r.payload])).toEqual([['devices/d1/hum', '40'], ['devices/d1/temp', '22'], ['devices/d1/mode', 'auto']])
    // A later poll (no channel) with newer values replaces them.
    rows.setTopics([topicView('devices/d1/temp', '23', 9_000)])
    expect(rows.rows().map((r) => [r.topic, r.payload])).toEqual([['devices/d1/temp', '23'], ['devices/d1/hum', '40']])
  })
})
