import type { Reporter, TestModule } from 'vitest/node'

/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, after vitest's own summary, so
 * CI logs that read closing lines (and people grepping them) get the counts without ANSI colours.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 }
    for (const module of testModules) {
      for (const test of module.children.allTests()) counts[test.result().state]++
    }
    // A module that failed to load has no tests but must still fail the count.
    const brokenModules = testModules.filter((m) => m.state() === 'failed' && [...m.children.allTests()].length === 0).length
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed + brokenModules} failed, ${counts.skipped + counts.pending} skipped\n`)
  }
}
