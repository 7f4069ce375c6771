import { join } from 'node:path'
import type { Clock } from '../base/clock.js'
import { DemoChild } from './demo-child.js'
import { DEMO_HOST, type DemoHub } from './demo-ring.js'

/**
 * Longest telemetry run the simulator can be asked for, ms: it waits with one timer, and Node
 * timers hold at most 2^31 − 1 ms (longer ones fire at once). About 23 days; the demo stops it
 * long before.
 */
export const FLEET_RUN_MS = 2_000_000_000

/** Stats line period of the fleet (in its log), ms. */
const FLEET_STATS_MS = 2_000

/** Name of the first simulated device (`sim-001` for 200 devices): the simulator pads to the count's width. */
export function firstDevice(devices: number): string {
  return `sim-${'1'.padStart(String(devices).length, '0')}`
}

/**
 * `ringhub sim fleet` arguments: the steady scenario against every hub's MQTT port (devices
 * spread round robin, failing over to the next hub), QoS 1, persistent sessions, answering
 * `ping` commands (firmware-sim/src/fleet/sim-device.ts).
 */
export function fleetArgs(devices: number, hubs: readonly DemoHub[]): string[] {
  return [
    'sim', 'fleet', '--devices', String(devices),
    '--hubs', hubs.map((h) => `mqtt://${DEMO_HOST}:${h.ports.mqtt}`).join(','),
    '--scenario', 'steady', '--duration-ms', String(FLEET_RUN_MS), '--stats-interval-ms', String(FLEET_STATS_MS),
  ]
}

/** `connected=N/M` of a fleet stats line (`[sim] t=… connected=…`). */
export function fleetConnected(line: string): { connected: number, devices: number } | undefined {
  const m = /^\[sim\] t=\S+ connected=(\d+)\/(\d+)/.exec(line)
  return m ? { connected: Number(m[1]), devices: Number(m[2]) } : undefined
}

export function startFleet(devices: number, hubs: readonly DemoHub[], data: string): DemoChild {
  return DemoChild.start('fleet', fleetArgs(devices, hubs), join(data, 'fleet.log'))
}

/**
 * Waits until a stats line shows every device connected. Resolves with the time that took, or
 * undefined after `deadlineMs` (the demo goes on: devices keep retrying); rejects if the fleet exits.
 */
export async function waitForFleet(fleet: DemoChild, devices: number, clock: Clock, deadlineMs: number): Promise<number | undefined> {
  const start = clock.monotonicMs()
  try {
    await fleet.waitForLine(clock, (l) => {
      const s = fleetConnected(l)
      return s && s.connected === devices ? true : undefined
    }, `all ${devices} devices connected`, deadlineMs)
    return Math.round(clock.monotonicMs() - start)
  } catch (err) {
    if (!fleet.running) throw err
    return undefined
  }
}
