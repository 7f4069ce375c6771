// aedes-persistence's own contract suite (abstract.js, written for node:test) run against
// SqlitePersistence through vitest, one fresh SQLite file per persistence instance.
import assert from 'node:assert'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { silentLogger } from '../../hub/src/base/log.js'
import { systemClock } from '../../hub/src/base/system-clock.js'
import { HubDb } from '../../hub/src/store/db.js'
import { SqlitePersistence } from '../../hub/src/store/sqlite-persistence.js'

/** The slice of node:test's TestContext that abstract.js uses. */
interface NodeTestContext {
  plan(count: number): void
  diagnostic(message: string): void
  assert: Pick<typeof assert, 'equal' | 'deepEqual' | 'notEqual' | 'ok'>
}
type NodeTestFn = (t: NodeTestContext) => Promise<void>
interface AbstractOptions {
  test: (name: string, fn: NodeTestFn) => void
  persistence: () => Promise<SqlitePersistence>
  testAsync: boolean
}

const require = createRequire(import.meta.url)
const abstractPath = require.resolve('aedes-persistence/abstract.js')
const abstractPersistence = require(abstractPath) as (opts: AbstractOptions) => void

const root = mkdtempSync(join(tmpdir(), 'ringhub-abstract-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let registered = 0

/** node:test's `test(name, async t => ...)` on top of vitest; the plan is checked once fn resolves. */
function adaptedTest(name: string, fn: NodeTestFn): void {
  registered++
  test(name, async () => {
    let planned: number | undefined
    let asserted = 0
    const counted = <A extends unknown[]>(check: (...args: A) => void) => (...args: A): void => {
      asserted++
      check(...args)
    }
    const t: NodeTestContext = {
      plan: (count) => { planned = count },
      diagnostic: () => { /* node:test prints these; vitest has no place for them */ },
      // node:assert's legacy (non-strict) functions, which t.assert is under node:test.
      assert: {
        equal: counted(assert.equal),
        deepEqual: counted(assert.deepEqual),
        notEqual: counted(assert.notEqual),
        ok: counted(assert.ok),
      },
    }
    await fn(t)
    if (planned !== undefined) expect(asserted, `plan(${planned})`).toBe(planned)
  })
}

abstractPersistence({
  test: adaptedTest,
  persistence: async () => {
    const dir = mkdtempSync(join(root, 'p-'))
    const db = HubDb.open({ path: join(dir, 'hub.sqlite'), clock: systemClock, log: silentLogger() })
    return new SqlitePersistence({ db, log: silentLogger(), ownsDb: true })
  },
  testAsync: true,
})

test('every test of abstract.js was registered', () => {
  const source = readFileSync(abstractPath, 'utf8')
  const declared = source.match(/^\s*test\(/gm)?.length ?? 0
  expect(declared).toBeGreaterThan(40)
  expect(registered).toBe(declared)
})
