import { cpus } from 'node:os'

/** Cumulative CPU time of the whole machine (all cores, all processes). */
export interface MachineCpu {
  atMs: number
  busyMs: number
}

/**
 * The machine is shared: other people's tests may run during a measurement. Machine-wide busy
 * time minus what the broker and the load generator used is what everything else took.
 */
export function readMachineCpu(): MachineCpu {
  let busyMs = 0
  for (const cpu of cpus()) busyMs += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq
  return { atMs: performance.now(), busyMs }
}

/** Machine CPU used between two readings, in % of one core. */
export function machinePct(before: MachineCpu, after: MachineCpu): number {
  return ((after.busyMs - before.busyMs) / (after.atMs - before.atMs)) * 100
}
