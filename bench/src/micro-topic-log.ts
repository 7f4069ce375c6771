/**
 * `node bench/dist/micro-topic-log.js [entries per turn] [owner|replica]`: CPU per entry of the
 * topic log's write paths alone — `append` (the owner: gathered, inserted just before the group
 * commit) or `appendReplica` (a replica's batch of copies: one write per batch) — with N entries arriving
 * per event-loop turn and the commit at the end of each turn (groupCommitMs 0, as a hub runs),
 * on a WAL file in a temporary directory. Three repetitions of 200,000 entries; prints µs of CPU
 * and of wall time per entry. For comparing two versions of topic-log.ts on this machine without
 * a broker, load generators or network in the way.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../hub/dist/base/log.js'
import { systemClock } from '../../hub/dist/base/system-clock.js'
import { HubDb } from '../../hub/dist/store/db.js'
import { TopicLog } from '../../hub/dist/store/topic-log.js'

const ENTRIES = 200_000
const REPEATS = 3
const KEYS = 4

async function main(perTurn: number, path: 'owner' | 'replica'): Promise<void> {
  const payload = Buffer.alloc(64, 7)
  for (let rep = 1; rep <= REPEATS; rep++) {
    const dir = mkdtempSync(join(tmpdir(), 'ringhub-micro-'))
    const db = HubDb.open({ path: join(dir, 'hub.db'), clock: systemClock, log: silentLogger(), groupCommitMs: 0 })
    try {
      const log = new TopicLog(db)
      const cpu0 = process.cpuUsage()
      const wall0 = performance.now()
      let last: Promise<void> = Promise.resolve()
      for (let i = 0; i < ENTRIES; i += perTurn) {
        const copies = []
        for (let j = i; j < Math.min(ENTRIES, i + perTurn); j++) {
          const key = `devices/r${j % KEYS}`
          const entry = { key, epoch: 1, seq: Math.floor(j / KEYS) + 1, topic: `${key}/t`, payload, qos: 1 as const, retain: false, tsMs: 1 }
          if (path === 'owner') last = log.append(entry)
          else copies.push(entry)
        }
        if (path === 'replica') last = log.appendReplica(copies)
        await new Promise((resolve) => setImmediate(resolve))
      }
      await last
      const cpu = process.cpuUsage(cpu0)
      const wallMs = performance.now() - wall0
      const rows = Array.from({ length: KEYS }, (_, k) => log.size(`devices/r${k}`)).reduce((a, b) => a + b, 0)
      if (rows !== ENTRIES) throw new Error(`expected ${ENTRIES} rows, found ${rows}`)
      process.stdout.write(`${path}, ${perTurn} per turn, run ${rep}: ${((cpu.user + cpu.system) / ENTRIES).toFixed(2)} µs CPU/entry, ${(wallMs * 1000 / ENTRIES).toFixed(2)} µs wall/entry\n`)
    } finally {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const perTurn = Number(process.argv[2] ?? 64)
const path = process.argv[3] ?? 'owner'
if (!Number.isInteger(perTurn) || perTurn < 1 || (path !== 'owner' && path !== 'replica')) {
  process.stderr.write('usage: node bench/dist/micro-topic-log.js [entries per turn ≥ 1] [owner|replica]\n')
  process.exitCode = 2
} else {
  main(perTurn, path).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
