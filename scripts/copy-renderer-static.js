// Copies what the renderer needs besides its compiled modules into ui/dist/renderer, the one
// directory the desktop app loads (ringhub-app://bundle) and packages:
// - its uncompiled files (ui/public: index.html, app.css); `tsc -b` copies no HTML or CSS;
// - the hub's browser modules it imports (the `ringhub/channels` client and its contract), from
//   hub/dist to ui/dist/renderer/hub/…, the list in hub/src/admin/renderer-modules.ts.
// Hubs serve ui/public, ui/dist/renderer and those modules directly (static-files.ts), so the
// tests and `npm test` need no copy. Run by prepare, `npm run desktop` and `npm run dist`, after
// `tsc -b` (it reads hub/dist). `node scripts/copy-renderer-static.js [destination]`: another
// destination than ui/dist/renderer (tests).
import { cpSync, mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RENDERER_HUB_MODULES } from '../hub/dist/admin/renderer-modules.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const to = resolve(process.argv[2] ?? join(root, 'ui', 'dist', 'renderer'))
mkdirSync(to, { recursive: true })
cpSync(join(root, 'ui', 'public'), to, { recursive: true })
for (const [url, file] of Object.entries(RENDERER_HUB_MODULES)) {
  mkdirSync(dirname(join(to, url)), { recursive: true })
  cpSync(join(root, file), join(to, url))
}
