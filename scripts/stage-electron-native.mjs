// Stages a copy of better-sqlite3 built for Electron's ABI in build/electron-native/, for the
// desktop package's optional local hub (electron-builder.yml maps it over node_modules). The
// checkout's own copy stays built for Node: it is never rebuilt in place (STYLE.md §12).
//
// Run by `npm run dist`. Needs the network (Electron headers or a prebuilt binary), which the
// build machines here do not have: see docs/desktop-app.md.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const versionOf = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
const electron = versionOf('electron')
const sqlite = versionOf('better-sqlite3')
const stage = join(root, 'build', 'electron-native')

rmSync(stage, { recursive: true, force: true })
mkdirSync(stage, { recursive: true })
// Its own package.json: the install below must not touch the root's lock file or node_modules.
writeFileSync(join(stage, 'package.json'), `${JSON.stringify({
  name: 'ringhub-electron-native', private: true, dependencies: { 'better-sqlite3': sqlite },
  allowScripts: { 'better-sqlite3': true },
}, null, 2)}\n`)
console.log(`staging better-sqlite3 ${sqlite} for Electron ${electron} in ${stage}`)
// prebuild-install (better-sqlite3's install script) reads these: fetch or build for Electron.
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev'], {
  cwd: stage,
  stdio: 'inherit',
  env: {
    ...process.env,
    npm_config_runtime: 'electron',
    npm_config_target: electron,
    npm_config_disturl: 'https://electronjs.org/headers',
    npm_config_build_from_source: process.env.npm_config_build_from_source ?? 'false',
  },
})
