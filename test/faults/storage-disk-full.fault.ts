import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, it } from 'vitest'
import { counter, gauge } from '../helpers/admin.js'
import { spawnHub, stopHub, type SpawnedHub } from '../helpers/hubs.js'
import { Qos1Load } from '../helpers/qos1-load.js'
import { waitFor } from '../helpers/wait.js'
import { criterion, holds, reportScenario } from './record.js'
import { fillFile, integrityCheck, loggedPayloads, mountSmallFs, sleep, type SmallFs } from './host-faults.js'

// Issue 7, storage: the hub's data directory on a small filesystem (a 32 MiB tmpfs) that fills
// up under QoS 1 load. A filler file takes all but FREE_BYTES once the hub runs; the load (long
// topics, so rows are ~1 KiB) fills the rest. Then, while the disk is full, for HOLD_MS:
//   - the hub stops acknowledging: PUBACKs from 1 s after its first disk-full error until space
//     returns (the first second lets acks of batches committed just before drain) are at most
//     1 % of the publishes sent meanwhile. Not 0: a full disk still lets a commit through now
//     and then (SQLite writes the WAL from its start again after a checkpoint, into space the
//     file already holds), and such a message is stored, so acknowledging it is right; one run
//     on a loaded machine saw 2 of 4531;
//   - it never acknowledges an unsaved message: every acked payload is in the log at the end;
//   - it does not crash, says so once in its log (one error line, however often a commit gets
//     through meanwhile), counts the failures in
//     ringhub_store_errors_total{reason="disk-full"} and shows ringhub_store_writable 0;
// and once the filler is deleted it acknowledges again within RECOVERY_MS, shows
// ringhub_store_writable 1, and logs the recovery once writes have gone 5 s without a failure. At the end `PRAGMA integrity_check` is `ok`.
// MQTT 3.1.1 has no negative PUBACK: a publish the hub could not store closes its connection
// unacknowledged (counted as ringhub_disconnects_total{reason="store-failed"}); the load
// reconnects at once and goes on publishing, which is the worst case for the hub.
const FS_BYTES = 32 * 1024 * 1024
const FREE_BYTES = 1024 * 1024
const OFFERED_PER_SEC = 800
const HOLD_MS = 5_000
const RECOVERY_MS = 5_000
const AFTER_MS = 6_000
const PADDING = 'p'.repeat(1_000)

describe('storage: full disk under QoS 1 load', () => {
  let fs: SmallFs | undefined
  let hub: SpawnedHub | undefined
  let load: Qos1Load | undefined
  afterAll(async () => {
    await load?.close()
    if (hub) await stopHub(hub, 'SIGKILL')
    fs?.remove()
  })

  it('stops acking while the disk is full, acks nothing unsaved, does not crash, and acks again when space returns', async () => {
    const started = performance.now()
    fs = mountSmallFs(FS_BYTES, 'ringhub-diskfull-')
    const data = join(fs.path, 'data')
    hub = await spawnHub(['--id', 'full1', '--data', data, '--allow-anonymous', '--replication-factor', '1'])
    const admin = `127.0.0.1:${hub.ports.admin}`
    const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`
    load = new Qos1Load({
      publishers: Array.from({ length: 6 }, (_, c) => ({ url, keys: Array.from({ length: 4 }, (_, k) => `devices/full-c${c}k${k}`) })),
      ratePerSec: OFFERED_PER_SEC, keyWindow: 10, ackTimeoutMs: 10_000,
      topicOf: (key) => `${key}/${PADDING}`,
    })
    await load.start()
    await waitFor(() => load && load.acked.length > 200, 'acks before the disk fills', 10_000, 20)

    const filler = join(fs.path, 'filler')
    const filled = fillFile(filler, Math.max(0, fs.freeBytes() - FREE_BYTES))
    await waitFor(async () => await counter(admin, 'ringhub_store_errors_total', 'reason="disk-full"') > 0, 'the first disk-full error', 30_000, 50)
    const fullAt = performance.now()
    await sleep(HOLD_MS)
    const writableWhileFull = await gauge(admin, 'ringhub_store_writable')
    const diskFullErrors = await counter(admin, 'ringhub_store_errors_total', 'reason="disk-full"')
    const closedUnacked = await counter(admin, 'ringhub_disconnects_total', 'reason="store-failed"')
    const sentDuringFull = load.messages.size - [...load.messages.values()].filter((m) => m.sentMs < fullAt + 1_000).length
    rmSync(filler)
    const freedAt = performance.now()
    const firstAckAfter = await waitFor(() => load?.acked.filter((m) => (m.ackedMs as number) > freedAt).sort((a, b) => (a.ackedMs as number) - (b.ackedMs as number))[0],
      'an ack after space returned', RECOVERY_MS + 10_000, 20).catch(() => undefined)
    await sleep(AFTER_MS)
    const writableAfter = await gauge(admin, 'ringhub_store_writable')
    const alive = hub.child.exitCode === null && hub.child.signalCode === null
    const healthz = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0)
    await load.stop(2_000)
    const stats = load.stats()
    const acked = load.acked
    const ackedSet = new Set(acked.map((m) => `${m.key}:${m.n}`))
    await load.close()
    load = undefined

    const lines = hub.output.flatMap((l) => { try { return [JSON.parse(l) as { level: number, msg: string }] } catch { return [] } })
    const fullLogLines = lines.filter((l) => l.msg.startsWith('store: disk full')).length
    const recoveredLogLines = lines.filter((l) => l.msg === 'store: writes succeed again').length
    const errorLines = lines.filter((l) => l.level >= 50).length
    await stopHub(hub, 'SIGKILL')
    hub = undefined
    const integrity = integrityCheck(data)
    const logged = loggedPayloads(data)
    const unsavedAcked = [...ackedSet].filter((p) => !logged.has(p))
    if (unsavedAcked.length > 0) process.stdout.write(`[faults] disk full: acked, not in the log: ${unsavedAcked.slice(0, 10).join(', ')}\n`)

    const between = (from: number, to: number): number => acked.filter((m) => (m.ackedMs as number) >= from && (m.ackedMs as number) < to).length
    const ackedBeforeFull = between(0, fullAt)
    const ackedWhileFull = between(fullAt + 1_000, freedAt)
    const recoveryMs = firstAckAfter === undefined ? Infinity : Math.round((firstAckAfter.ackedMs as number) - freedAt)
    const ackedAfter = between(freedAt, Infinity)
    fs.remove()
    fs = undefined

    reportScenario({
      scenario: 'storage: full disk (tmpfs) under QoS 1 load, then space returns',
      figures: {
        'filler MiB': Math.round(filled / 2 ** 20),
        sent: stats.sent,
        'acked before full': ackedBeforeFull,
        'acked while full (after 1 s)': ackedWhileFull,
        'sent while full (1 s after the first error → freeing)': sentDuringFull,
        'disk-full errors counted': diskFullErrors,
        'connections closed unacknowledged': closedUnacked,
        'first ack after space returned ms': recoveryMs,
        'acked after space returned': ackedAfter,
        'rows in log': logged.size,
        'wall s': Math.round((performance.now() - started) / 1000),
      },
      criteria: [
        criterion('PUBACKs while full (1 s after the first error → space returns), % of sent meanwhile', Math.round(10_000 * ackedWhileFull / Math.max(1, sentDuringFull)) / 100, '<=', 1),
        criterion('acked but not in the log (unsaved acked)', unsavedAcked.length, '==', 0),
        criterion('disk-full errors counted', diskFullErrors, '>=', 1),
        criterion('ringhub_store_writable while full', writableWhileFull, '==', 0),
        holds('hub alive and /healthz 200 after', alive && healthz === 200),
        criterion('"store: disk full" log lines', fullLogLines, '==', 1),
        criterion('error-level log lines', errorLines, '<=', 1),
        criterion('first ack after space returned, ms', recoveryMs, '<=', RECOVERY_MS),
        criterion('"writes succeed again" log lines', recoveredLogLines, '==', 1),
        criterion('ringhub_store_writable after', writableAfter, '==', 1),
        holds('integrity_check ok', integrity === 'ok', 'ok'),
      ],
    })
  })
})
