import { defineConfig } from 'vitest/config'

// `npm run test:faults`: the fault suite of issue 7 (test/faults/*.fault.ts). Real hub processes
// on test hosts under load, one scenario file at a time (they measure detection and recovery
// times on a shared 2-core machine), a summary table at the end (faults-reporter.ts).
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default', './test/faults/faults-reporter.ts', './test/helpers/summary-reporter.ts'],
  },
})
