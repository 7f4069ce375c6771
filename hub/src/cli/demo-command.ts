import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Clock } from '../base/clock.js'
import { ConfigError, RinghubError } from '../base/errors.js'
import { systemClock } from '../base/system-clock.js'
import { formatBanner, restartCommand } from './demo-banner.js'
import { DemoChildError, type DemoChild } from './demo-child.js'
import { desktopEntry, electronBinary, startDesktop } from './demo-desktop.js'
import { startFleet, waitForFleet } from './demo-fleet.js'
import { claimDataDir } from './demo-lock.js'
import { DEMO_USAGE, parseDemoArgs, type DemoOptions } from './demo-options.js'
import { DEMO_HOST, startHubs, waitForRing, type DemoHub } from './demo-ring.js'
import { watchRing } from './demo-watch.js'

/** How long the fleet has to connect every device before the banner says "still connecting", ms. */
const FLEET_CONNECT_DEADLINE_MS = 30_000

/** Startup was cut short by Ctrl-C or SIGTERM: not an error. */
class StopRequested extends RinghubError {}

/**
 * A repeated stop signal closer than this to the first one is the same request: `npm start`
 * forwards the terminal's Ctrl-C to a child that already got it from the terminal, ms.
 */
const REPEAT_SIGNAL_MS = 1_000

/** Ctrl-C, SIGTERM and SIGHUP (terminal closed) all mean stop; another one a second later means stop now. */
function stopSignals(clock: Clock, onForce: () => void): { requested: Promise<NodeJS.Signals>, dispose: () => void } {
  let firstAt: number | undefined
  let settle: (signal: NodeJS.Signals) => void = () => {}
  const requested = new Promise<NodeJS.Signals>((r) => { settle = r })
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstAt === undefined) {
      firstAt = clock.monotonicMs()
      settle(signal)
    } else if (clock.monotonicMs() - firstAt >= REPEAT_SIGNAL_MS) {
      onForce()
    }
  }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of signals) process.on(s, onSignal)
  return { requested, dispose: () => { for (const s of signals) process.off(s, onSignal) } }
}

/** `work`, unless a stop is requested first; `work` is still awaited by nobody then, so its failure is swallowed. */
async function unlessStopped<T>(work: Promise<T>, stop: Promise<NodeJS.Signals>): Promise<T> {
  work.catch(() => undefined)
  return Promise.race([work, stop.then((): never => { throw new StopRequested('stop requested') })])
}

/**
 * Stops the fleet first (its devices disconnect while the hubs still run, as devices would), then
 * every hub at once with SIGTERM: each one leaves the ring and flushes its store. Whatever is
 * still running after `deadlineMs` gets SIGKILL.
 */
async function stopAll(fleet: DemoChild | undefined, hubs: readonly DemoChild[], clock: Clock, deadlineMs: number, print: (line: string) => void): Promise<void> {
  if (fleet?.running) {
    print('stopping the fleet …')
    await fleet.stop(clock, deadlineMs)
  }
  const running = hubs.filter((h) => h.running)
  if (running.length === 0) return
  print(`stopping ${running.map((h) => h.name).join(', ')} …`)
  const results = await Promise.all(running.map((h) => h.stop(clock, deadlineMs)))
  const killed = running.filter((_, i) => results[i]?.killed).map((h) => h.name)
  if (killed.length > 0) print(`${killed.join(', ')} did not stop within ${deadlineMs} ms and got SIGKILL`)
}

/** Reports children that end while the demo runs (a user killing a hub is the point of the demo). */
function reportExits(hubs: readonly DemoHub[], fleet: DemoChild | undefined, stopping: () => boolean, print: (line: string) => void): void {
  for (const hub of hubs) {
    void hub.process.exited.then((exit) => {
      if (stopping()) return
      print(`[demo] hub ${hub.id} (pid ${hub.process.pid}) ended: ${hub.process.describeExit(exit)}. Its devices fail over to the other hubs.`)
      print(`[demo] restart it (not supervised by the demo) with:\n  ${restartCommand(hub, hubs)}`)
    })
  }
  void fleet?.exited.then((exit) => {
    if (stopping()) return
    print(`[demo] the fleet (pid ${fleet.pid}) ended: ${fleet.describeExit(exit)}; the hubs keep running. The end of ${fleet.logPath}:\n${fleet.tail()}`)
  })
}

/**
 * `ringhub demo` (`npm start`): a ring of hub processes and a simulated fleet on this machine,
 * until Ctrl-C (docs/demo.md). Exit code 0 after a requested stop, 1 when startup failed, 2 for
 * bad flags.
 */
export async function runDemo(argv: readonly string[]): Promise<number> {
  let o: DemoOptions
  try {
    o = parseDemoArgs(argv)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`ringhub demo: ${err.message}\n\n${DEMO_USAGE}`)
    return 2
  }
  if (o.help) {
    process.stdout.write(DEMO_USAGE)
    return 0
  }
  const clock = systemClock
  const print = (line: string): void => { process.stdout.write(line + '\n') }
  const data = resolve(o.data)
  let release: () => void
  try {
    release = claimDataDir(data)
    // Only once no other demo uses it.
    if (o.fresh) {
      rmSync(data, { recursive: true, force: true })
      release = claimDataDir(data)
    }
  } catch (err) {
    process.stderr.write(`ringhub demo: ${(err as Error).message}\n`)
    return 1
  }

  const hubProcesses: DemoChild[] = []
  let fleet: DemoChild | undefined
  let stopping = false
  const forceStop = (): void => {
    print('second stop request: killing everything now')
    for (const child of [...(fleet ? [fleet] : []), ...hubProcesses]) child.signal('SIGKILL')
  }
  const stop = stopSignals(clock, forceStop)
  let watcher: { stop: () => void } | undefined
  let desktop: ChildProcess | undefined
  let failure: string | undefined
  try {
    print(`Starting ${o.hubs} hubs (data and logs under ${data}) …`)
    const hubs = await unlessStopped(startHubs(o, clock, (child) => hubProcesses.push(child)), stop.requested)
    const view = await unlessStopped(waitForRing(hubs, clock, o.ringDeadlineMs), stop.requested)
    let connectedMs: number | undefined
    if (o.devices > 0) {
      print(`Ring formed (checksum ${view.checksum}); starting ${o.devices} simulated devices …`)
      fleet = startFleet(o.devices, hubs, data)
      connectedMs = await unlessStopped(waitForFleet(fleet, o.devices, clock, FLEET_CONNECT_DEADLINE_MS), stop.requested)
    }
    print(formatBanner({ hubs, checksum: view.checksum, fleet: fleet ? { pid: fleet.pid, devices: o.devices, logPath: fleet.logPath, connectedMs } : undefined }))
    desktop = openDesktop(`http://${DEMO_HOST}:${(hubs[0] as DemoHub).ports.admin}/`, o.desktop, print)
    reportExits(hubs, fleet, () => stopping, print)
    watcher = watchRing(hubs, clock, print)
    await stop.requested
  } catch (err) {
    if (err instanceof DemoChildError) failure = err.message
    else if (!(err instanceof StopRequested)) failure = err instanceof Error ? err.stack ?? err.message : String(err)
  } finally {
    stopping = true
    watcher?.stop()
    desktop?.kill('SIGTERM')
    await stopAll(fleet, hubProcesses, clock, o.stopDeadlineMs, print)
    stop.dispose()
    release()
  }
  // Last, after the stop's own lines, so it is what the user reads.
  if (failure !== undefined) {
    process.stderr.write(`ringhub demo: ${failure}\n`)
    return 1
  }
  print('Demo stopped.')
  return 0
}

/**
 * The Electron app on the first hub, where its binary is installed (`--no-desktop`: never);
 * otherwise one line saying why it did not start. Its exit is its own business: the demo runs on.
 */
function openDesktop(adminUrl: string, wanted: boolean, print: (line: string) => void): ChildProcess | undefined {
  if (!wanted) return undefined
  const binary = electronBinary()
  const entry = desktopEntry()
  if ('missing' in binary || entry === undefined) {
    print(`Desktop app: not started here (${'missing' in binary ? `Electron: ${binary.missing}` : 'ui/dist/main/main.js is not built'}); the UI above is the same app in a browser. docs/desktop-app.md`)
    return undefined
  }
  print(`Desktop app: starting ${binary.path} on ${adminUrl}`)
  return startDesktop(binary.path, entry, adminUrl)
}
