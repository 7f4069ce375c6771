import type { Clock, TimerHandle } from '../../../device-agent/dist/base/clock.js'
import type { Rng } from '../../../device-agent/dist/base/rng.js'
import type { SimDevice } from './sim-device.js'

export const SCENARIOS = ['steady', 'burst', 'churn', 'hub-kill'] as const
export type ScenarioName = typeof SCENARIOS[number]

/** Kills (and maybe restarts) hubs by their index in `--hubs`; the hub-kill scenario needs one. */
export interface HubControl {
  kill(index: number): Promise<void>
  restart?(index: number): Promise<void>
}

export interface ScenarioOptions {
  /** burst: every this many ms (default 5000) … */
  burstEveryMs: number
  /** … this many messages from each of `burstFraction` of the devices (default 20, 0.1). */
  burstSize: number
  burstFraction: number
  /** churn: every this many ms (default 2000), cut the connection of `churnFraction` (0.05) of the devices. */
  churnEveryMs: number
  churnFraction: number
  /** hub-kill: when (ms after the start, default a third of the run) and which hub (default seeded). */
  killAtMs: number
  killHub: number | undefined
  /** hub-kill: restart the killed hub this long after (needs HubControl.restart; default never). */
  restartAfterMs: number | undefined
}

export interface ScenarioContext {
  clock: Clock
  rng: Rng
  devices: readonly SimDevice[]
  hubs: readonly string[]
  hubControl: HubControl | undefined
  /** Records what the scenario did, for the summary. */
  event: (what: string, detail?: Record<string, unknown>) => void
  /** Makes one device publish now (bursts). */
  produce: (device: SimDevice) => void
}

/** Picks `fraction` of the devices (at least one), seeded. */
function pick(ctx: ScenarioContext, fraction: number): SimDevice[] {
  const n = Math.max(1, Math.round(ctx.devices.length * fraction))
  const out: SimDevice[] = []
  const used = new Set<number>()
  while (out.length < Math.min(n, ctx.devices.length)) {
    const i = ctx.rng.int(ctx.devices.length)
    if (used.has(i)) continue
    used.add(i)
    out.push(ctx.devices[i] as SimDevice)
  }
  return out
}

/** Starts a scenario's extra actions on top of the steady telemetry; returns its stopper. */
export function startScenario(name: ScenarioName, o: ScenarioOptions, ctx: ScenarioContext): () => void {
  const timers: TimerHandle[] = []
  const { clock } = ctx
  switch (name) {
    case 'steady': break
    case 'burst':
      timers.push(clock.setInterval(() => {
        const chosen = pick(ctx, o.burstFraction)
        for (const d of chosen) for (let i = 0; i < o.burstSize; i++) ctx.produce(d)
        ctx.event('burst', { devices: chosen.length, messages: chosen.length * o.burstSize })
      }, o.burstEveryMs))
      break
    case 'churn':
      timers.push(clock.setInterval(() => {
        const chosen = pick(ctx, o.churnFraction).filter((d) => d.connected)
        for (const d of chosen) d.link.dropConnection()
        ctx.event('churn', { dropped: chosen.length })
      }, o.churnEveryMs))
      break
    case 'hub-kill': {
      const control = ctx.hubControl
      if (!control) throw new Error('scenario hub-kill needs a way to kill hubs (--hub-pids, or a HubControl)')
      const index = o.killHub ?? ctx.rng.int(ctx.hubs.length)
      timers.push(clock.setTimeout(() => {
        const onHub = ctx.devices.filter((d) => d.connected && d.link.url === ctx.hubs[index]).length
        ctx.event('hub-kill', { hub: index, connectedDevices: onHub })
        void control.kill(index).then(() => {
          if (o.restartAfterMs === undefined || !control.restart) return
          const restart = control.restart.bind(control)
          timers.push(clock.setTimeout(() => {
            ctx.event('hub-restart', { hub: index })
            void restart(index)
          }, o.restartAfterMs))
        })
      }, o.killAtMs))
      break
    }
  }
  return () => { for (const t of timers) { clock.clearTimeout(t); clock.clearInterval(t) } }
}
