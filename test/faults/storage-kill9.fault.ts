import { afterAll, describe, it } from 'vitest'
import { median } from '../../bench/src/stats.js'
import { spawnHub, stopHub, tempDir, type SpawnedHub } from '../helpers/hubs.js'
import { Qos1Load } from '../helpers/qos1-load.js'
import { criterion, reportScenario } from './record.js'
import { integrityCheck, loggedPayloads, scenarioSeed, seededRandom, sleep } from './host-faults.js'

// Issue 7, storage: kill -9 a hub in the middle of QoS 1 writes, KILLS times, restarting it on
// the same data directory each time. After every restart (the hub running again, a read-only
// connection beside it): `PRAGMA integrity_check` is `ok`, and every message acknowledged so
// far, in any earlier run, is in the topic log (recovered ≥ acked, nothing acked is missing).
// Also counted: log rows no client ever sent (phantoms) and payloads logged twice (duplicates;
// the load never re-sends a payload, so both must be 0).
//
// Each run: a fresh Qos1Load (6 connections × 4 keys, keys new per run so payloads stay unique),
// offered 1500 msg/s with up to 20 unacknowledged publishes per key, killed after a random
// 150–650 ms (seeded) of load, and only if publishes are in flight at that moment.
const KILLS = 20
const OFFERED_PER_SEC = 1_500
const KEY_WINDOW = 20

describe('storage: kill -9 under QoS 1 writes', () => {
  const dir = tempDir('ringhub-kill9-')
  let hub: SpawnedHub | undefined
  let load: Qos1Load | undefined
  afterAll(async () => {
    await load?.close()
    if (hub) await stopHub(hub, 'SIGKILL')
    dir.remove()
  })

  it(`keeps every acknowledged message and an intact file across ${KILLS} kills`, async () => {
    const seed = scenarioSeed('storage kill -9')
    const random = seededRandom(seed)
    const started = performance.now()
    const args = ['--id', 'kill9', '--data', dir.path, '--allow-anonymous', '--replication-factor', '1']
    const acked = new Set<string>()
    const sent = new Set<string>()
    const inFlightAtKill: number[] = []
    let integrityFailures = 0
    let lost = 0
    let phantoms = 0
    let duplicates = 0
    let recovered = 0
    const notes: string[] = []

    const check = (after: number): void => {
      const integrity = integrityCheck(dir.path)
      if (integrity !== 'ok') { integrityFailures++; notes.push(`after kill ${after}: integrity_check ${integrity}`) }
      const logged = loggedPayloads(dir.path)
      recovered = logged.size
      const missing = [...acked].filter((p) => !logged.has(p)).length
      lost = Math.max(lost, missing)
      phantoms = [...logged.keys()].filter((p) => !sent.has(p)).length
      duplicates = [...logged.values()].filter((n) => n > 1).length
      if (missing > 0) notes.push(`after kill ${after}: ${missing} acknowledged messages missing, e.g. ${[...acked].filter((p) => !logged.has(p)).slice(0, 5).join(', ')}`)
    }

    for (let run = 1; run <= KILLS; run++) {
      hub = await spawnHub(args)
      if (run > 1) check(run - 1)
      const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
      load = new Qos1Load({
        publishers: Array.from({ length: 6 }, (_, c) => ({ url, keys: Array.from({ length: 4 }, (_, k) => `devices/r${run}c${c}k${k}`) })),
        ratePerSec: OFFERED_PER_SEC, keyWindow: KEY_WINDOW, ackTimeoutMs: 10_000,
      })
      load.onAck = (m) => acked.add(`${m.key}:${m.n}`)
      await load.start()
      await sleep(150 + Math.floor(random() * 500))
      // Kill only with publishes in flight (sent, not acknowledged): wait a little for one.
      const deadline = performance.now() + 2_000
      while (load.snapshot().sent === load.acked.length && performance.now() < deadline) await sleep(1)
      const snap = load.snapshot()
      hub.child.kill('SIGKILL')
      inFlightAtKill.push(snap.sent - snap.acked)
      // Closed in the same turn: the load neither reconnects nor counts anything after the kill.
      const closing = load.close()
      for (const payload of load.messages.keys()) sent.add(payload)
      await closing
      load = undefined
      await hub.exited
      hub = undefined
    }
    hub = await spawnHub(args)
    check(KILLS)
    await stopHub(hub, 'SIGKILL')
    hub = undefined
    for (const n of notes) process.stdout.write(`[faults] storage kill -9: ${n}\n`)

    reportScenario({
      scenario: `storage: kill -9 under QoS 1 writes, ${KILLS} times`,
      seed,
      figures: {
        kills: inFlightAtKill.length,
        sent: sent.size,
        acked: acked.size,
        'recovered (rows in log)': recovered,
        'in flight at kill (min/median/max)': `${Math.min(...inFlightAtKill)}/${median(inFlightAtKill)}/${Math.max(...inFlightAtKill)}`,
        'wall s': Math.round((performance.now() - started) / 1000),
      },
      criteria: [
        criterion('kills with QoS 1 publishes in flight', inFlightAtKill.filter((n) => n > 0).length, '==', KILLS),
        criterion('integrity_check not ok (restarts)', integrityFailures, '==', 0),
        criterion('recovered − acked', recovered - acked.size, '>=', 0),
        criterion('acked missing from the log after a restart (lost, worst)', lost, '==', 0),
        criterion('phantoms in the log', phantoms, '==', 0),
        criterion('payloads logged twice', duplicates, '==', 0),
      ],
    })
  })
})
