import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../../../device-agent/dist/base/clock.js'
import { seededRng, type Rng } from '../../../device-agent/dist/base/rng.js'
import { SimDevice } from './sim-device.js'
import { Observer } from './observer.js'
import { startScenario, type HubControl, type ScenarioName, type ScenarioOptions } from './scenarios.js'

export interface FleetOptions {
  devices: number
  hubs: readonly string[]
  /** Telemetry period of each device, ms (default 1000). */
  intervalMs: number
  qos: 0 | 1
  /** How long telemetry runs once the fleet is up, ms. */
  durationMs: number
  scenario: ScenarioName
  scenarioOptions: ScenarioOptions
  seed: number
  /** New connections per second while the fleet comes up (default 1000). */
  connectRatePerS: number
  /** Persistent sessions (default true). */
  persistent: boolean
  /** Device names are `<prefix>-00001` … (default `sim`). */
  prefix: string
  password?: string
  observerUsername?: string
  observerPassword?: string
  /** A stats line this often, ms (default 1000; 0 = none). */
  statsIntervalMs: number
  /** After the run, how long to wait for acks and deliveries to settle, ms (default 15 000). */
  drainTimeoutMs: number
  /** Send a `ping` command to a random device this often, ms (0 = never). */
  commandIntervalMs: number
  /** Most unacknowledged messages a device keeps for re-sending (default 10 000). */
  maxUnacked: number
  hubControl?: HubControl
  clock: Clock
  log: Logger
  onStats?: (line: FleetStats) => void
}

export interface FleetStats {
  tMs: number
  connected: number
  devices: number
  /** Over the last interval. */
  sentPerS: number
  receivedPerS: number
  reconnects: number
  unacked: number
}

export interface FleetSummary {
  scenario: ScenarioName
  seed: number
  devices: number
  hubs: readonly string[]
  qos: 0 | 1
  intervalMs: number
  durationMs: number
  /** Time until every device had connected once (ms), or null if some never did. */
  connectMs: number | null
  connectedAtEnd: number
  /** Devices connected to each hub at the end. */
  perHub: Record<string, number>
  produced: number
  /** Publishes, re-sends after a reconnect included. */
  sent: number
  acked: number
  /** Produced but not acknowledged by the end (outcome unknown; never counted as lost). */
  unconfirmed: number
  /** Given up by devices whose re-send buffer overflowed. */
  givenUp: number
  /** Distinct (device, seq) delivered to the observer. */
  received: number
  /** QoS 1: acknowledged and never delivered. QoS 0: published and never delivered. */
  lost: number
  /** A (device, seq) delivered twice by the same hub. */
  duplicates: number
  reconnects: number
  receivedPerS: number
  latencyMs: { p50: number, p99: number, max: number }
  commands: { sent: number, answered: number }
  events: Array<{ tMs: number, what: string } & Record<string, unknown>>
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms))
}

async function until(clock: Clock, check: () => boolean, deadlineMs: number, stepMs = 50): Promise<boolean> {
  const end = clock.monotonicMs() + deadlineMs
  while (!check()) {
    if (clock.monotonicMs() > end) return false
    await sleep(clock, stepMs)
  }
  return true
}

/**
 * N simulated MQTT devices against one or more hubs (docs/simulator.md): ramp up, steady telemetry
 * plus the scenario's actions, then drain and count end to end what was lost and duplicated.
 */
export async function runFleet(o: FleetOptions): Promise<FleetSummary> {
  const { clock, log } = o
  const rng: Rng = seededRng(o.seed)
  const t0 = clock.monotonicMs()
  const events: FleetSummary['events'] = []
  const event = (what: string, detail: Record<string, unknown> = {}): void => {
    events.push({ tMs: Math.round(clock.monotonicMs() - t0), what, ...detail })
    log.info({ what, ...detail }, 'fleet event')
  }
  const observer = new Observer({
    hubs: o.hubs, runId: o.seed.toString(16), clock, rng, log,
    ...(o.observerUsername !== undefined ? { username: o.observerUsername } : {}),
    ...(o.observerPassword !== undefined ? { password: o.observerPassword } : {}),
  })
  observer.start()
  await until(clock, () => observer.connected === o.hubs.length, 10_000)

  const width = String(o.devices).length
  let producing = false
  const nextDue = new Map<SimDevice, number>()
  const devices: SimDevice[] = []
  let everConnected = 0
  let connectMs: number | null = null
  for (let i = 0; i < o.devices; i++) {
    devices.push(new SimDevice({
      name: `${o.prefix}-${String(i + 1).padStart(width, '0')}`, hubs: o.hubs, startIndex: i % o.hubs.length,
      qos: o.qos, persistent: o.persistent, maxUnacked: o.maxUnacked, clock, rng, log,
      ...(o.password !== undefined ? { password: o.password } : {}),
      onConnected: (d) => {
        if (nextDue.has(d)) return
        everConnected++
        if (everConnected === o.devices) connectMs = Math.round(clock.monotonicMs() - t0)
        nextDue.set(d, clock.monotonicMs() + rng.next() * o.intervalMs)
      },
    }))
  }
  const produce = (d: SimDevice): void => d.produce(clock.now(), Math.round((20 + rng.next() * 5) * 100) / 100)

  // Ramp up: connectRatePerS, in slices of 10 ms.
  const perSlice = Math.max(1, Math.round(o.connectRatePerS / 100))
  for (let i = 0; i < devices.length; i += perSlice) {
    for (const d of devices.slice(i, i + perSlice)) d.link.start()
    await sleep(clock, 10)
  }
  await until(clock, () => everConnected === o.devices, 30_000)
  event('fleet up', { connected: devices.filter((d) => d.connected).length, connectMs })

  // Telemetry: one tick for the whole fleet; each device is due once per interval, phases spread.
  producing = true
  const runStart = clock.monotonicMs()
  const tick: TimerHandle = clock.setInterval(() => {
    if (!producing) return
    const now = clock.monotonicMs()
    for (const [d, due] of nextDue) {
      if (now < due) continue
      produce(d)
      nextDue.set(d, due + o.intervalMs < now ? now + o.intervalMs : due + o.intervalMs)
    }
  }, Math.max(5, Math.min(50, Math.floor(o.intervalMs / 4))))

  const totals = (): { sent: number, reconnects: number, unacked: number, connected: number } => {
    let sent = 0, reconnects = 0, unacked = 0, connected = 0
    for (const d of devices) {
      sent += d.sent
      reconnects += Math.max(0, d.link.connects - 1)
      unacked += d.unacked.size
      if (d.connected) connected++
    }
    return { sent, reconnects, unacked, connected }
  }
  let lastSent = 0
  let lastReceived = 0
  const statsTimer = o.statsIntervalMs > 0 ? clock.setInterval(() => {
    const t = totals()
    o.onStats?.({
      tMs: Math.round(clock.monotonicMs() - t0), connected: t.connected, devices: o.devices,
      sentPerS: Math.round((t.sent - lastSent) * 1000 / o.statsIntervalMs),
      receivedPerS: Math.round((observer.received - lastReceived) * 1000 / o.statsIntervalMs),
      reconnects: t.reconnects, unacked: t.unacked,
    })
    lastSent = t.sent
    lastReceived = observer.received
  }, o.statsIntervalMs) : undefined

  let commandsSent = 0
  const commandIds: Array<{ id: string, at: number }> = []
  const commandTimer = o.commandIntervalMs > 0 ? clock.setInterval(() => {
    const d = devices[rng.int(devices.length)] as SimDevice
    const id = `c${o.seed.toString(16)}-${++commandsSent}`
    const link = observer.links.find((l) => l.connected)
    if (link?.publish(`devices/${d.name}/cmd/ping`, JSON.stringify({ id }), { qos: 1 })) commandIds.push({ id, at: clock.now() })
  }, o.commandIntervalMs) : undefined

  const stopScenario = startScenario(o.scenario, o.scenarioOptions, {
    clock, rng, devices, hubs: o.hubs, hubControl: o.hubControl, event, produce,
  })
  await sleep(clock, o.durationMs)
  producing = false
  stopScenario()
  clock.clearInterval(tick)
  clock.clearInterval(commandTimer)
  const runMs = clock.monotonicMs() - runStart
  event('telemetry stopped')

  // Drain: every produced message acknowledged, every acknowledged one delivered.
  const ackedSeqs = (d: SimDevice): number[] => {
    const out: number[] = []
    for (let s = 1; s <= d.seq; s++) if (!d.unacked.has(s) && !d.givenUp.has(s)) out.push(s)
    return out
  }
  await until(clock, () => devices.every((d) => d.unacked.size === 0) && observer.received >= devices.reduce((n, d) => n + d.acked, 0), o.drainTimeoutMs, 100)
  // Deliveries trail acks by a little; a last short wait for commands and stragglers.
  await until(clock, () => commandIds.every((c) => observer.responses.has(c.id)), 2_000, 100)
  clock.clearInterval(statsTimer)

  let lost = 0
  let givenUp = 0
  let produced = 0
  for (const d of devices) {
    produced += d.seq
    givenUp += d.givenUp.size
    if (o.qos === 1) for (const s of ackedSeqs(d)) if (!observer.has(d.name, s)) lost++
  }
  const t = totals()
  if (o.qos === 0) lost = Math.max(0, t.sent - observer.received)
  const perHub: Record<string, number> = Object.fromEntries(o.hubs.map((h) => [h, 0]))
  for (const d of devices) if (d.connected) perHub[d.link.url] = (perHub[d.link.url] ?? 0) + 1
  const summary: FleetSummary = {
    scenario: o.scenario, seed: o.seed, devices: o.devices, hubs: o.hubs, qos: o.qos, intervalMs: o.intervalMs,
    durationMs: Math.round(runMs), connectMs, connectedAtEnd: t.connected, perHub,
    produced, sent: t.sent, acked: devices.reduce((n, d) => n + d.acked, 0), unconfirmed: t.unacked, givenUp,
    received: observer.received, lost, duplicates: observer.duplicates, reconnects: t.reconnects,
    receivedPerS: Math.round(observer.received * 1000 / Math.max(1, runMs)),
    latencyMs: observer.latency(),
    commands: { sent: commandIds.length, answered: commandIds.filter((c) => observer.responses.has(c.id)).length },
    events,
  }
  await Promise.all(devices.map((d) => d.link.stop()))
  await observer.stop()
  return summary
}
