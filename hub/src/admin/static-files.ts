/**
 * Serves the operator UI's renderer (issue 6) on the admin port: every hub answers `/` with the
 * web app, so a browser pointed at any hub works without the desktop app (DESIGN.md §1).
 *
 * The files come from directories of the installed package, looked up in order: `ui/public`
 * (index.html, CSS: not compiled) and `ui/dist/renderer` (the ES modules `tsc -b` emits). Under
 * `/hub/` only the hub's own browser modules the renderer imports (renderer-modules.ts: the
 * channel client), from hub/dist. Only GET; `/api/…` paths never reach the disk (they are the
 * API's, and a missing one is a JSON 404).
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendJson } from './admin-server.js'
import { RENDERER_HUB_MODULES, RENDERER_HUB_PREFIX } from './renderer-modules.js'

/** The package root: this file is hub/src/admin (tests) or hub/dist/admin (built), both 3 down. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** Where the renderer's files are, first match wins. */
export const RENDERER_DIRS: readonly string[] = [resolve(PACKAGE_ROOT, 'ui/public'), resolve(PACKAGE_ROOT, 'ui/dist/renderer')]

/** `/hub/…` URL path → the hub's compiled module it names (renderer-modules.ts: the allowlist). */
export const HUB_MODULE_FILES: ReadonlyMap<string, string> = new Map(Object.entries(RENDERER_HUB_MODULES).map(([url, file]) => [url, resolve(PACKAGE_ROOT, file)]))

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * A handler for `GET /…` that serves files under `dirs`. Paths are decoded once and resolved
 * inside each directory; anything that would leave it (`..`, encoded `%2e%2e`, backslashes, NUL)
 * is a 404, as is every path under `/api/`. Files are revalidated on each load (`no-cache`), so a
 * hub upgraded in place never serves a stale mix of old and new modules.
 */
export function staticFiles(dirs: readonly string[] = RENDERER_DIRS, opts: { hubModules?: ReadonlyMap<string, string>, onRefusedPath?: (res: ServerResponse) => void } = {}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const hubModules = opts.hubModules ?? HUB_MODULE_FILES
  const onRefusedPath = opts.onRefusedPath ?? ((): void => {})
  const roots = dirs.map((d) => resolve(d))
  return async (req, res) => {
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/'
    const path = safePath(rawPath)
    // A path that tries to leave the directories, or does not decode, is bad input (counted).
    if (path === undefined) onRefusedPath(res)
    if (path === undefined || rawPath.startsWith('/api/')) return sendJson(res, 404, { error: `no route ${req.method} ${rawPath}` })
    // `/hub/…`: only the allowlisted modules, always this hub's own build (never a copy that
    // copy-renderer-static.js left in ui/dist/renderer/hub from another build).
    const candidates = path.startsWith(RENDERER_HUB_PREFIX)
      ? [hubModules.get(path)].filter((f): f is string => f !== undefined)
      : roots.map((root) => resolve(root, path)).filter((file, i) => file.startsWith(roots[i] + sep))
    for (const file of candidates) {
      const info = await stat(file).catch(() => undefined)
      if (!info?.isFile()) continue
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      })
      await new Promise<void>((done) => {
        const stream = createReadStream(file)
        stream.on('error', () => { res.destroy(); done() })
        stream.on('end', done)
        stream.pipe(res)
      })
      return
    }
    sendJson(res, 404, { error: `no file ${rawPath}` })
  }
}

/** The request path as a relative file path (`/` → `index.html`), or undefined when unsafe. */
export function safePath(rawPath: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(rawPath)
  } catch {
    return undefined // malformed %-escape
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return undefined
  const parts = decoded.split('/').filter((p) => p !== '')
  if (parts.some((p) => p === '..' || p === '.' || p.startsWith('.'))) return undefined
  return parts.length === 0 ? 'index.html' : parts.join('/')
}
