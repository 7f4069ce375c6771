import { readFileSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import { afterAll, describe, it } from 'vitest'
import { counter, gauge } from '../helpers/admin.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { close, connect, rawConnack } from '../helpers/mqtt.js'
import { waitFor } from '../helpers/wait.js'
import { criterion, holds, reportScenario } from './record.js'
import { sleep } from './host-faults.js'

// Issue 7 item 3, capacity: "2× capacity offered → no crash, RSS under its configured cap, the
// excess shed or back-pressured and counted, full speed again within 10 s". One hub process with
// `--max-rss-mb CAP_MB` (overload-governor.ts). First its capacity C is measured: QoS 1
// publishers keeping a window of publishes in flight (the hub's speed sets the rate), two QoS 1
// subscribers reading everything. Then 2 C is offered open loop for OVERLOAD_MS by many raw
// publishers (half QoS 0, half QoS 1; a publisher whose socket the hub no longer reads counts
// what it cannot send as held back, as a device with a bounded buffer would) while new clients
// keep trying to connect. Then the overload stops, and the time until the closed-loop publishers
// achieve 90 % of C again is the recovery. Every acknowledged QoS 1 message must reach both
// subscribers. The excess is what the hub did not take in (its own count of PUBLISH packets
// read): left in the sockets (TCP pushes back on the publishers) or shed while overloaded. With a
// cap the hub bounds V8's heap growth, so memory overload episodes are the exception here: the
// governor's own behaviour (paused reads, CONNACK 0x03, QoS 0 drops) is asserted in
// test/integration/overload-protection.test.ts.
//
// RINGHUB_CAPACITY_NO_CAP=1 runs the same load without the cap (the governor off), to show
// what the cap prevents: the RSS criterion then compares against CAP_MB all the same.
// RINGHUB_CAPACITY_CAP_MB: another cap, to provoke episodes when debugging (the criteria are for 320).
const CAP_MB = Number(process.env.RINGHUB_CAPACITY_CAP_MB ?? 320)
const OVERLOAD_MS = 15_000
const RAW_PUBLISHERS = 32
const PROBE_CLIENTS = 8
const PROBE_WINDOW = 25
const SUBSCRIBERS = 2
const RECOVERY_WINDOW_MS = 500
/** Late clients connect this often during the flood; an episode of LONG_EPISODE_S or more has several land in it. */
const LATE_CONNECT_EVERY_MS = 100
const LONG_EPISODE_S = 1
const PAYLOAD_BYTES = 256
const withCap = process.env.RINGHUB_CAPACITY_NO_CAP !== '1'

const dir = tempDir()
let hub: SpawnedHub
const clients: MqttClient[] = []
const sockets: Socket[] = []
const admin = (): string => `127.0.0.1:${hub.ports.admin}`
const pad = (s: string): Buffer => Buffer.concat([Buffer.from(s + ' '), Buffer.alloc(PAYLOAD_BYTES - s.length - 1, 'x')])
const idOf = (payload: Buffer): string => payload.subarray(0, payload.indexOf(0x20)).toString()

afterAll(async () => {
  // The hub's account of its episodes and of RSS above the cap: always printed when it went over.
  const overCap = (hub?.output ?? []).some((l) => l.includes('RSS above the cap'))
  if (overCap || process.env.RINGHUB_CAPACITY_DEBUG === '1') for (const l of hub?.output ?? []) if (/overload|error/i.test(l)) process.stdout.write(l.slice(0, 400) + '\n')
  for (const s of sockets) s.destroy()
  await close(...clients)
  if (hub) await stopHub(hub, 'SIGKILL')
  dir.remove()
})

/** VmRSS of a process, bytes, from /proc (0 once it has exited). */
function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return Number(kb ?? 0) * 1024
  } catch {
    return 0
  }
}

/**
 * Closed-loop QoS 1 publishers (`lanes` publishes each kept in flight): their acknowledged rate
 * is the hub's capacity. Connects with retries: a hub still overloaded refuses with CONNACK 0x03.
 */
async function probe(url: string, tag: string): Promise<{ acked: () => number, ackedIds: Set<string>, stop: () => Promise<void> }> {
  const ackedIds = new Set<string>()
  let stopped = false
  let n = 0
  const pubs: MqttClient[] = []
  const lanes: Array<Promise<void>> = []
  for (let i = 0; i < PROBE_CLIENTS; i++) {
    const pub = await waitFor(() => connect(url, { clientId: `${tag}-${i}` }), `${tag}-${i} connected`, 30_000, 100)
    clients.push(pub)
    pubs.push(pub)
    for (let w = 0; w < PROBE_WINDOW; w++) {
      lanes.push((async () => {
        while (!stopped) {
          const id = `${tag}-${n++}`
          try {
            await pub.publishAsync(`cap/${tag}${i}/t`, pad(id), { qos: 1 })
            ackedIds.add(id)
          } catch {
            return
          }
        }
      })())
    }
  }
  return { acked: () => ackedIds.size, ackedIds, stop: async () => { stopped = true; await Promise.all(lanes); await close(...pubs) } }
}

/** Messages per second `count` grows by over `ms`. */
async function rateOver(count: () => number, ms: number): Promise<number> {
  const [n0, t0] = [count(), performance.now()]
  await sleep(ms)
  return (count() - n0) * 1_000 / (performance.now() - t0)
}

interface RawPublisher { socket: Socket, inFlight: Map<number, string>, nextId: number }

/** An MQTT publisher on a raw socket: writes only while the hub reads (no queue of its own). */
async function rawPublisher(port: number, clientId: string, ackedIds: Set<string>): Promise<RawPublisher> {
  const socket = netConnect({ port, host: '127.0.0.1', noDelay: true })
  sockets.push(socket)
  socket.on('error', () => { /* the scenario ends by destroying it */ })
  const pub: RawPublisher = { socket, inFlight: new Map(), nextId: 1 }
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let connack = -1
  parser.on('packet', (p) => {
    if (p.cmd === 'connack') connack = p.returnCode ?? 0
    if (p.cmd === 'puback' && p.messageId !== undefined) {
      const id = pub.inFlight.get(p.messageId)
      pub.inFlight.delete(p.messageId)
      if (id !== undefined) ackedIds.add(id)
    }
  })
  socket.on('data', (d: Buffer) => parser.parse(d))
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }))
  await waitFor(() => connack === 0, `${clientId} CONNACK 0`, 10_000)
  return pub
}

describe('capacity', () => {
  it(`takes 2× its capacity for ${OVERLOAD_MS / 1000} s under --max-rss-mb ${CAP_MB}: RSS under the cap, the excess counted, nothing acknowledged lost, full speed again within 10 s`, async () => {
    hub = await spawnHub(['--id', 'capacity', '--data', dir.path, '--allow-anonymous', ...(withCap ? ['--max-rss-mb', String(CAP_MB)] : [])])
    const pid = hub.child.pid as number
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    const received: Array<Set<string>> = []
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const sub = await connect(url, { clientId: `cap-sub-${i}` })
      clients.push(sub)
      const got = new Set<string>()
      received.push(got)
      sub.on('message', (_t, p) => got.add(idOf(p)))
      await sub.subscribeAsync('cap/#', { qos: 1 })
    }

    // 1. Capacity: acknowledged QoS 1 publishes per second with the hub as the bottleneck.
    const before = await probe(url, 'cap')
    await rateOver(before.acked, 1_500) // warm-up
    const capacity = await rateOver(before.acked, 4_000)
    await before.stop()
    await sleep(500)
    const idleRss = rssOf(pid)

    // 2. 2× capacity, open loop: RAW_PUBLISHERS publishers, QoS 0 and 1 alternating, paced.
    let peakRss = idleRss
    const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, rssOf(pid)) }, 50)
    const overloadAcked = new Set<string>()
    const pubs = await Promise.all(Array.from({ length: RAW_PUBLISHERS }, (_, i) => rawPublisher(hub.ports.mqtt, `flood-${i}`, overloadAcked)))
    const offeredPerSec = 2 * capacity
    let [offered, sent, heldBack, tokens, n] = [0, 0, 0, 0, 0]
    let last = performance.now()
    const pacer = setInterval(() => {
      const now = performance.now()
      tokens += offeredPerSec * (now - last) / 1_000
      last = now
      for (; tokens >= 1; tokens--) {
        const pub = pubs[n % RAW_PUBLISHERS] as RawPublisher
        const qos = (n >> 5) % 2 as 0 | 1
        const id = `o-${n++}`
        offered++
        // The hub stopped reading this socket (its buffers are full): back-pressure.
        if (pub.socket.writableNeedDrain) { heldBack++; continue }
        const messageId = qos === 1 ? pub.nextId : undefined
        if (messageId !== undefined) {
          pub.nextId = pub.nextId % 65_535 + 1
          pub.inFlight.set(messageId, id)
        }
        pub.socket.write(mqttPacket.generate({ cmd: 'publish', topic: `cap/flood${n % RAW_PUBLISHERS}/t`, payload: pad(id), qos, retain: false, dup: false, ...(messageId === undefined ? {} : { messageId }) }))
        sent++
      }
    }, 5)
    // New clients keep arriving meanwhile: while overloaded they are refused with CONNACK 0x03.
    const connacks: number[] = []
    let connecting = true
    const arrivals = (async () => {
      for (let i = 0; connecting; i++) {
        connacks.push(await rawConnack(hub.ports.mqtt, { clientId: `late-${i}` }, 10_000).catch(() => -2))
        await sleep(LATE_CONNECT_EVERY_MS)
      }
    })()
    const takenIn = (): Promise<number> => Promise.all([counter(admin(), 'ringhub_messages_in_total', 'qos="0"'), counter(admin(), 'ringhub_messages_in_total', 'qos="1"')]).then(([a, b]) => a + b)
    const takenInBefore = await takenIn()
    const overloadStart = performance.now()
    const dbg = process.env.RINGHUB_CAPACITY_DEBUG === '1' ? setInterval(() => {
      void fetch(`http://${admin()}/metrics`).then((r) => r.text()).then((t) => {
        const pick = (re: RegExp): string => t.split('\n').filter((l) => re.test(l)).map((l) => l.replace(/^ringhub_/, '')).join(' ')
        process.stdout.write(`t=${Math.round(performance.now() - overloadStart)} sent=${sent} acked=${overloadAcked.size} recv=${received.map((r) => r.size).join('/')} rss=${Math.round(rssOf(pid) / 1048576)} ${pick(/^ringhub_(messages_in|messages_out|overload_active|router_events_total.event="(sequenced|deliveriesSent)")/)} ${pick(/^nodejs_heap_size_(used|total)_bytes/)}\n`)
      })
    }, 1_000) : undefined
    await sleep(OVERLOAD_MS)
    clearInterval(dbg)
    clearInterval(pacer)
    connecting = false
    await arrivals
    // What the hub read of the flood; the rest it left in the sockets (TCP back-pressure: a QoS 1
    // publish not read is not acknowledged, and its publisher still holds it).
    const takenInFlood = await takenIn() - takenInBefore
    // The flood stops: its publishers reset their connections. What they had written but the hub
    // had not taken in sits in their kernel send buffers (loopback autotunes those up to
    // tcp_wmem's 4 MiB: some 14,000 publishes each, where a device's own buffer is a few KiB). A
    // plain close sends that on ahead of its FIN, a reset drops it, and which one `destroy()`
    // does depends on whether a PUBACK sat unread at that instant: one CI run where several
    // sockets closed that way measured a 16.6 s recovery, the hub busy with the flood's tail.
    // The hub's own receive buffers are read either way ('flood taken in after the stop').
    for (const p of pubs) p.socket.resetAndDestroy()
    const stoppedAt = performance.now()
    const takenInAtStop = takenInBefore + takenInFlood
    const overloadSec = (stoppedAt - overloadStart) / 1_000

    // 3. Recovery: closed-loop publishers again until they achieve 90 % of the capacity.
    const after = await probe(url, 'rec')
    let recoveryMs = Infinity
    while (performance.now() - stoppedAt < 20_000) {
      const rate = await rateOver(after.acked, RECOVERY_WINDOW_MS)
      if (process.env.RINGHUB_CAPACITY_DEBUG === '1') process.stdout.write(`recovery t=${Math.round(performance.now() - stoppedAt)} rate=${Math.round(rate)} recv=${received.map((r) => r.size).join('/')} acked=${before.ackedIds.size + overloadAcked.size + after.ackedIds.size}\n`)
      if (rate >= 0.9 * capacity) { recoveryMs = performance.now() - stoppedAt; break }
    }
    // What the hub still read of the flood after its publishers closed (the recovery probe's own
    // publishes taken out; up to PROBE_CLIENTS × PROBE_WINDOW of those may be in flight).
    const floodAfterStop = await takenIn() - takenInAtStop - after.ackedIds.size
    await after.stop()
    clearInterval(rssTimer)
    peakRss = Math.max(peakRss, rssOf(pid))

    // 4. Every acknowledged QoS 1 message reached both subscribers.
    const acked = [...before.ackedIds, ...overloadAcked, ...after.ackedIds]
    const lost = (): number => received.reduce((sum, got) => sum + acked.filter((id) => !got.has(id)).length, 0)
    await waitFor(() => lost() === 0, 'every acknowledged message delivered', 20_000, 200).catch(() => {})
    if (process.env.RINGHUB_CAPACITY_DEBUG === '1') received.forEach((got, i) => process.stdout.write(`sub ${i} misses ${acked.filter((id) => !got.has(id)).slice(0, 20).join(' ')}\n`))
    const metric = (name: string, labels?: string): Promise<number> => counter(admin(), name, labels)
    const episodes = await gauge(admin(), 'ringhub_overload_events_total')
    const qos0Dropped = await metric('ringhub_dropped_total', 'reason="overload"')
    const refused = await metric('ringhub_auth_failures_total', 'reason="overloaded"')
    const readPauses = await metric('ringhub_overload_shed_total', 'action="read-paused"')
    const overloadSeconds = await gauge(admin(), 'ringhub_overload_seconds_total')
    const refusedSeen = connacks.filter((c) => c === 3).length
    const mb = (b: number): number => Math.round(b / 1_048_576)
    reportScenario({
      scenario: `2× capacity under --max-rss-mb ${withCap ? CAP_MB : 'off'}`,
      figures: {
        'capacity msg/s': Math.round(capacity), 'offered msg/s': Math.round(offeredPerSec), 'sent msg/s': Math.round(sent / overloadSec),
        'offered msgs': offered, 'taken in by the hub': takenInFlood, 'left unread in its sockets': sent - takenInFlood, 'held back by TCP': heldBack, 'idle RSS MB': mb(idleRss), 'peak RSS MB': mb(peakRss), 'cap MB': CAP_MB,
        'overload episodes': episodes, 'overloaded s': Number(overloadSeconds.toFixed(1)), 'QoS 0 dropped': qos0Dropped, 'read pauses': readPauses,
        'connects refused (0x03)': refused, 'late connects': connacks.length, 'QoS 1 acked': acked.length, 'QoS 1 lost': lost(),
        'flood taken in after the stop': floodAfterStop, 'recovery ms': Number.isFinite(recoveryMs) ? Math.round(recoveryMs) : 'never',
      },
      criteria: [
        holds('hub alive', hub.child.exitCode === null && hub.child.signalCode === null),
        criterion('peak RSS MB', mb(peakRss), '<=', CAP_MB),
        // The hub reads what it can handle and leaves the rest to TCP (or sheds QoS 0 while overloaded).
        criterion('excess left unread, held back or shed, % of offered', Math.round(100 * (offered - takenInFlood) / offered), '>=', 20),
        // Overload episodes are the last resort now (bounded heap growth keeps RSS low): when the
        // hub was overloaded long enough for late connects to land in it, they were refused with
        // 0x03 and counted. Episodes shorter than that (a few hundred ms, seen with forced lower
        // caps) may fall between two connects; the refusal itself is asserted deterministically
        // in test/integration/overload-protection.test.ts.
        holds(`late connects refused with 0x03 while overloaded (if it was, for ${LONG_EPISODE_S} s or more)`, overloadSeconds < LONG_EPISODE_S || Math.min(refused, refusedSeen) > 0),
        criterion('acknowledged QoS 1 lost', lost(), '==', 0),
        criterion('QoS 1 acknowledged during the overload', overloadAcked.size, '>', 0),
        criterion('recovery to 90 % of capacity, ms', Number.isFinite(recoveryMs) ? Math.round(recoveryMs) : 1e9, '<=', 10_000),
      ],
    })
  })
})
