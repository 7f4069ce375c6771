#!/usr/bin/env node
// Thin launcher. The hub's CLI lives in hub/src/main.ts; `agent` and `sim` live in their own parts
// (device-agent/, firmware-sim/), which the hub must not import (DESIGN.md §6), so they are
// dispatched here, each loaded only when asked for. All are compiled by `npm install` (tsc -b).
const [command, ...rest] = process.argv.slice(2)

async function run() {
  if (command === 'agent') return (await import('../device-agent/dist/main.js')).runAgent(rest)
  if (command === 'sim') return (await import('../firmware-sim/dist/main.js')).runSim(rest)
  return (await import('../hub/dist/main.js')).main(process.argv.slice(2))
}

run().then(
  (code) => { if (typeof code === 'number') process.exitCode = code },
  (err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  }
)
