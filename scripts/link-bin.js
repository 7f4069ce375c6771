// Makes `npx ringhub …` work from the repository root: npm links the bins of dependencies into
// node_modules/.bin, but not the root package's own bin, so npx would look for `ringhub` on the
// registry instead. Run by `npm install` (prepare).
import { mkdirSync, rmSync, symlinkSync, chmodSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const binDir = join(root, 'node_modules', '.bin')
const target = join(root, 'bin', 'ringhub.js')
const link = join(binDir, 'ringhub')
mkdirSync(binDir, { recursive: true })
rmSync(link, { force: true })
symlinkSync(relative(binDir, target), link)
chmodSync(target, 0o755)
