// Copies the renderer's uncompiled files (ui/public: index.html, app.css) next to its compiled
// modules in ui/dist/renderer, the one directory the desktop app loads and packages. `tsc -b`
// copies no HTML or CSS. Hubs serve ui/public directly (first) and ui/dist/renderer, so the
// tests and `npm test` need no copy. Run by prepare, `npm run desktop` and `npm run dist`.
import { cpSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const to = join(root, 'ui', 'dist', 'renderer')
mkdirSync(to, { recursive: true })
cpSync(join(root, 'ui', 'public'), to, { recursive: true })
