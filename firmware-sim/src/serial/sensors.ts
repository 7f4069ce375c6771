import type { Rng } from '../../../device-agent/dist/base/rng.js'

export const SENSOR_NAMES = ['temp', 'hum', 'battery', 'rssi'] as const
export type SensorName = typeof SENSOR_NAMES[number]

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits

/**
 * Plausible readings for a small environmental sensor: temperature (°C) drifting around 21.5 with
 * a daily swing, relative humidity (%) moving against it, a battery (V) that slowly drains from
 * 4.2 V, and a radio RSSI (dBm) that jitters. Driven by the seeded rng, so a seed replays.
 */
export class Sensors {
  #drift = 0
  #battery = 4.2

  constructor(readonly rng: Rng) {}

  read(nowMs: number, names: readonly SensorName[] = SENSOR_NAMES): Record<string, number> {
    const rng = this.rng
    this.#drift = Math.max(-2, Math.min(2, this.#drift + (rng.next() - 0.5) * 0.2))
    const daily = Math.sin((nowMs % 86_400_000) / 86_400_000 * 2 * Math.PI) * 2.5
    const temp = 21.5 + daily + this.#drift + (rng.next() - 0.5) * 0.1
    this.#battery = Math.max(3.3, this.#battery - rng.next() * 0.0005)
    const all: Record<SensorName, number> = {
      temp: round(temp, 2),
      hum: round(Math.max(5, Math.min(95, 50 - (temp - 21.5) * 3 + (rng.next() - 0.5) * 2)), 1),
      battery: round(this.#battery, 3),
      rssi: -55 - rng.int(30),
    }
    return Object.fromEntries(names.map((n) => [n, all[n]]))
  }
}
