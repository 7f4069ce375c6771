import { defineConfig } from 'vitest/config'

// `npm run bench:ui`: the UI render benchmark (test/bench/ui-render.bench.ts), alone on the
// machine, outside `npm test`.
export default defineConfig({
  test: {
    include: ['test/bench/*.bench.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
