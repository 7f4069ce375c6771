#!/usr/bin/env node
// Thin launcher: the CLI lives in hub/src/main.ts and is compiled by `npm install` (tsc -b).
import { main } from '../hub/dist/main.js'

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code },
  (err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  }
)
